"""Cases, evidence and notice letters: from a confirmed detection to a resolved case.

Modules follow the path of a detection: :mod:`review` (confirm or reject),
:mod:`cases` over :mod:`case_engine` and :mod:`lifecycle` (the declared case state
machine), :mod:`letter_lifecycle` (the letter's, coupled to its cases),
:mod:`evidence` and :mod:`ledger` (bundles and the hash-chained ledger, committed in
two phases with the store; :mod:`timestamping` for RFC 3161), :mod:`letters`,
:mod:`templates`, :mod:`jurisdictions`, :mod:`ownership`, :mod:`letter_tables` and
:mod:`export` (letters keyed by jurisdiction, strict templates, required elements,
title and identity, PDF, DOCX, zip), :mod:`calendars` (statutory periods),
:mod:`recheck` (is it gone yet?), :mod:`report` (the monthly report) and :mod:`jobs`
(what the daemon calls). The records live in :mod:`earwitness.kernel.store.case_models`.
"""

from notices import config as _config  # noqa: F401  (registers the "notices" settings section)
from notices.exceptions import (EvidenceError, LedgerError, MissingElements, NoticesError,
                                TimestampError, TransitionNotAllowed)

__all__ = ["NoticesError", "TransitionNotAllowed", "MissingElements", "EvidenceError",
           "LedgerError", "TimestampError"]
