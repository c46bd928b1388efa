"""The letter lifecycle, declared, and how each letter event moves the letter's cases.

::

    draft ─approve─► approved ─send─► sent ─retract─► withdrawn
      │  ◄─reopen──┘    │
      ├──withdraw───────┴──► withdrawn
      └──revise (draft or approved) ──► superseded   (a new draft revision takes its place)

A letter is a series of revisions (:class:`~earwitness.kernel.store.case_models.Notice`
rows sharing ``series_id``); only the newest revision is open. Each letter event
names the case event it applies to every case the revision covers
(``case_event``): drafting drafts them, sending sends them, withdrawing returns
them to ``confirmed``, retracting closes them. ``revise`` is how a case leaves an
open letter (the case withdrawn or its draft withdrawn on the case page): the old
revision is kept, with its content hash and exported files' hashes, as
``superseded``, and a new draft covers the remaining cases. A changed letter must
be approved again. :mod:`notices.letters` applies this table; nothing else changes
a letter's state.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("draft", "approved", "sent", "withdrawn", "superseded")
OPEN = ("draft", "approved")
TERMINAL = ("withdrawn", "superseded")


@dataclass(frozen=True)
class LetterTransition:
    event: str
    sources: tuple[str, ...]
    target: str
    case_event: str | None        # applied to every case of the revision, or None
    needs_reason: bool = False
    doc: str = ""


TRANSITIONS: dict[str, LetterTransition] = {t.event: t for t in (
    LetterTransition("draft", (), "draft", "draft_notice",
                     doc="a letter covering confirmed cases was drafted"),
    LetterTransition("approve", ("draft",), "approved", None,
                     doc="a named legal user approved the letter as it stands"),
    LetterTransition("reopen", ("approved",), "draft", None, needs_reason=True,
                     doc="the approval was taken back before sending"),
    LetterTransition("send", ("approved",), "sent", "send_notice",
                     doc="a person sent the approved letter: channel, recipient and time"),
    LetterTransition("withdraw", ("draft", "approved"), "withdrawn", "withdraw_draft",
                     needs_reason=True, doc="the letter was dropped before sending"),
    LetterTransition("revise", ("draft", "approved"), "superseded", None, needs_reason=True,
                     doc="a case left the letter; a new draft revision covers the others"),
    LetterTransition("retract", ("sent",), "withdrawn", "retract_notice", needs_reason=True,
                     doc="the sent letter was retracted; its cases close"),
)}


def events_from(state: str) -> list[str]:
    """The letter events a revision in ``state`` accepts, in declaration order."""
    return [t.event for t in TRANSITIONS.values() if state in t.sources]
