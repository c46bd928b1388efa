"""Cases, evidence and notice letters: from a confirmed detection to a resolved case.

Modules follow the path of a detection: :mod:`review` (confirm or reject),
:mod:`cases` and :mod:`lifecycle` (the declared state machine), :mod:`evidence`
and :mod:`ledger` (bundles and the hash-chained ledger, :mod:`timestamping` for
RFC 3161), :mod:`letters` and :mod:`export` (letters, PDF, DOCX, zip),
:mod:`recheck` (is it gone yet?), :mod:`report` (the monthly report) and
:mod:`jobs` (what the daemon calls). The records live in :mod:`earwitness.kernel.store.case_models`.
"""

from notices import config as _config  # noqa: F401  (registers the "notices" settings section)
from notices.exceptions import (EvidenceError, LedgerError, MissingElements, NoticesError,
                                TimestampError, TransitionNotAllowed)

__all__ = ["NoticesError", "TransitionNotAllowed", "MissingElements", "EvidenceError",
           "LedgerError", "TimestampError"]
