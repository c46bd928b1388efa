"""Password policy and bounded password hashing.

The policy refuses short passwords and guessable ones: zxcvbn (Dropbox's
estimator, with its lists of common passwords, names and words) must rate a
password at least ``min_strength`` of 4. Every scrypt hash or check costs about
32 MiB and a few tenths of a second of CPU, so at most ``max_concurrent`` run at
once per process; a request that cannot get a slot within ``wait_s`` is answered
"busy" instead of queueing memory without bound (50 simultaneous bad logins must
not take the server down).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from webapp.errors import UserError


class Busy(Exception):
    """Too many password checks are running; try again in a moment."""


class Policy:
    """What a new password must satisfy."""

    def __init__(self, *, min_length: int = 12, min_strength: int = 3) -> None:
        self.min_length, self.min_strength = int(min_length), int(min_strength)

    def check(self, password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
        """Raise :class:`UserError` saying why ``password`` is refused."""
        password = password or ""
        if len(password) < self.min_length:
            raise UserError(f"password must have at least {self.min_length} characters")
        verdict = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])
        if verdict["score"] < self.min_strength:
            hint = verdict["feedback"].get("warning") or "it is too easy to guess"
            raise UserError(f"password refused: {hint.rstrip('.')} (strength {verdict['score']} of 4, "
                            f"needs {self.min_strength}); use a longer phrase of unrelated words")


class Hasher:
    """scrypt hashing and checking, at most ``max_concurrent`` at a time in this process."""

    def __init__(self, *, max_concurrent: int = 2, wait_s: float = 10.0) -> None:
        self._slots = threading.BoundedSemaphore(max(1, int(max_concurrent)))
        self.wait_s = float(wait_s)
        self.max_concurrent = max(1, int(max_concurrent))

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait_s):
            raise Busy(f"more than {self.max_concurrent} password checks waiting; try again in a moment")
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        with self._slot():
            return generate_password_hash(password, method="scrypt")

    def check(self, stored_hash: str, password: str) -> bool:
        with self._slot():
            return check_password_hash(stored_hash, password)


DEFAULT_POLICY = Policy()
DEFAULT_HASHER = Hasher()
