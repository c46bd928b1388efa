"""The key that signs Flask's cookie, shared by every worker process of the app.

From the ``webapp.secret_key`` setting when one is given, else from a key file in
the data home, created on first use (mode 0600, written whole then linked into
place, so a worker starting at the same moment never reads half a key).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create(configured: str | None, path: Path) -> bytes:
    """The configured key, or the key file's bytes (made once, with 32 random bytes)."""
    if configured:
        if len(configured) < 32:
            raise ValueError("webapp.secret_key must have at least 32 characters (or leave it unset "
                             "and the app keeps a random key in webapp.secret_key_file)")
        return configured.encode()
    path = Path(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)      # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the key file holds fewer than 32 characters; delete it to make a new one")
    return key.encode()
