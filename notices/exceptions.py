"""One root exception for the package, one subclass per meaning."""

from __future__ import annotations


class NoticesError(Exception):
    """Root of every error raised on purpose by :mod:`notices`."""


class NotFound(NoticesError):
    """A case, detection, notice or bundle id that does not exist."""


class ReviewError(NoticesError):
    """A review action that does not apply (e.g. confirming a rejected detection)."""


class TransitionNotAllowed(NoticesError):
    """An event that the case's current state does not accept."""

    def __init__(self, state: str, event: str, allowed: list[str]) -> None:
        self.state, self.event, self.allowed = state, event, allowed
        super().__init__(f"event {event!r} is not allowed in state {state!r}; "
                         f"allowed here: {', '.join(allowed) or 'none'}")


class MissingDetails(NoticesError):
    """An event was applied without the details the law or the audit trail requires."""


class MissingElements(NoticesError):
    """A letter lacks statutory elements; it is not rendered."""

    def __init__(self, letter: str, missing: list[str]) -> None:
        self.letter, self.missing = letter, missing
        super().__init__(f"the {letter} letter lacks required elements: {'; '.join(missing)}")


class EvidenceError(NoticesError):
    """Evidence cannot be bundled (file missing, or changed since capture)."""


class LedgerError(NoticesError):
    """The ledger file cannot be read or appended to."""


class TimestampError(NoticesError):
    """The time-stamp authority refused, could not be reached, or answered wrongly; or a token does
    not verify (``reason`` names which check failed, see :mod:`notices.timestamping`)."""

    def __init__(self, message: str, *, reason: str = "authority") -> None:
        self.reason = reason
        super().__init__(message)


class LetterOnlyEvent(NoticesError):
    """A case event that only a letter applies (drafting, sending, retracting)."""


class LetterTransitionNotAllowed(NoticesError):
    """A letter event that the letter's current state does not accept."""

    def __init__(self, notice_id: str, state: str, event: str, allowed: list[str]) -> None:
        self.notice_id, self.state, self.event, self.allowed = notice_id, state, event, allowed
        super().__init__(f"letter {notice_id} is {state}: {event!r} is not allowed; "
                         f"allowed here: {', '.join(allowed) or 'none'}")


class TemplateError(NoticesError):
    """A letter template or statement cannot be used as written (unknown placeholder, changed statement)."""


class TitleNotShown(NoticesError):
    """A letter would claim works the sender cannot show title to; it is not drafted."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the letter would claim works the sender cannot show title to: " + "; ".join(problems))
