"""The case lifecycle, declared: states, named events, what each event needs.

::

    confirmed ─draft_notice─► notice_drafted ─send_notice─► notice_sent ─verify_removed─► removed ─resolve─► resolved
        ▲   └──────withdraw──────┐    │ withdraw_draft          │                 │                     │
        └────────────────────────┼────┘                         └──counter_notice─┴─────────────────────┤
                                 ▼                                                                      ▼
                               closed ◄──close── restored ◄──restore── disputed ──escalate──► escalated ─close─► closed
    notice_sent ─notice_rejected─► rejected ─resubmit─► confirmed (a new letter)
    notice_sent | rejected ─complain_to_regulator─► escalated;   rejected ─close─► closed
    notice_sent ─retract_notice─► closed
    removed | resolved ─reappeared─► notice_sent   (the re-check after removal found it up again)

``draft_notice``, ``send_notice`` and ``retract_notice`` are letter events
(:data:`LETTER_ONLY`): a case takes them only with its letter
(:mod:`notices.letter_lifecycle`), so a case reaches ``notice_sent`` only through a
sent letter. ``send_notice`` is only ever applied by an explicit action (a person
running ``notices send`` or pressing the button) and must carry the channel, the
recipient and the time: nothing in this package sends or marks sent on its own.
``withdraw_draft`` and ``withdraw`` on a case in an open letter take the case out
of the letter (a new revision without it, or the letter withdrawn if it was the last).
``verify_removed`` is applied by the re-check (or by a person with the check's
result); removed, resolved and restored cases keep being re-checked on a slower
schedule (:func:`notices.recheck.recheck_after_removal`), and an item found up
again after its removal takes ``reappeared``. A counter-notice sets a deadline from its legal basis (:data:`DISPUTE_BASES`,
computed by :mod:`notices.calendars`).

Records that do not move the case (``opened``, ``detection_attached``,
``recheck``, ``note``, ``reupload_found``) are events too, so the timeline is the
whole history. The state machine is data; :mod:`notices.cases` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("confirmed", "notice_drafted", "notice_sent", "removed", "resolved",
          "disputed", "restored", "escalated", "rejected", "closed")
TERMINAL = ("closed",)
OPEN_STATES = tuple(s for s in STATES if s not in TERMINAL)


@dataclass(frozen=True)
class Transition:
    event: str
    sources: tuple[str, ...]
    target: str
    requires: tuple[str, ...] = ()      # details that must be given (non-empty)
    needs_reason: bool = False
    doc: str = ""


TRANSITIONS: dict[str, Transition] = {t.event: t for t in (
    Transition("draft_notice", ("confirmed",), "notice_drafted", ("notice_id",),
               doc="a letter covering the case was drafted"),
    Transition("withdraw_draft", ("notice_drafted",), "confirmed", needs_reason=True,
               doc="the draft letter was withdrawn before sending"),
    Transition("send_notice", ("notice_drafted",), "notice_sent",
               ("channel", "recipient", "sent_at"),
               doc="a person sent the letter: channel, recipient and time recorded"),
    Transition("verify_removed", ("notice_sent",), "removed", ("check",),
               doc="a re-check found the item gone"),
    Transition("resolve", ("removed",), "resolved", doc="removal accepted as the outcome"),
    Transition("counter_notice", ("notice_sent", "removed", "resolved"), "disputed",
               ("basis", "received_at"),
               doc="the uploader answered with a counter-notice; a deadline runs"),
    Transition("restore", ("disputed",), "restored", needs_reason=True,
               doc="the platform restored the item after the dispute period"),
    Transition("escalate", ("disputed",), "escalated", needs_reason=True,
               doc="legal action was taken within the dispute period"),
    Transition("close", ("resolved", "restored", "escalated", "rejected"), "closed",
               doc="nothing more to do"),
    Transition("withdraw", ("confirmed", "notice_drafted"), "closed", needs_reason=True,
               doc="the case was dropped before a notice was sent (licence found, mistake)"),
    Transition("retract_notice", ("notice_sent",), "closed", needs_reason=True,
               doc="the sent letter was retracted (the platform was told to disregard it)"),
    Transition("notice_rejected", ("notice_sent",), "rejected", ("answer",),
               doc="the platform refused to act on the notice (its answer recorded)"),
    Transition("complain_to_regulator", ("notice_sent", "rejected"), "escalated", ("channel",),
               needs_reason=True,
               doc="the platform refused or ignored the notice: complaint to the regulator "
                   "(e.g. 国家版权局 / 12315) by the channel named"),
    Transition("reappeared", ("removed", "resolved"), "notice_sent", ("check",),
               doc="the re-check after removal found the item up again (confirmed like a removal): the "
                   "notice stands and the case awaits removal again"),
    Transition("resubmit", ("rejected",), "confirmed", needs_reason=True,
               doc="the notice will be sent again (a new letter), e.g. with the evidence the platform asked for"),
)}

# events a case takes only together with its letter (notices.letters applies them)
LETTER_ONLY = ("draft_notice", "send_notice", "retract_notice")
# states in which a case sits in an open (draft or approved) letter
IN_OPEN_LETTER = ("notice_drafted",)
# states a case reaches only after its letter was sent
AFTER_SENT = ("notice_sent", "removed", "resolved", "disputed", "restored", "escalated", "rejected")

# records that keep the state as it is
RECORDS = ("opened", "detection_attached", "recheck", "note", "reupload_found", "letter_revised",
           "follow_up")

# legal bases of a counter-notice period (computed by notices.calendars)
DISPUTE_BASES = {
    "ecommerce_art43": "电子商务法 第四十三条 (15 days from the platform's receipt)",
    "civil_code_1196": "民法典 第一千一百九十六条 (reasonable period from the rights holder's receipt)",
    "dmca_512g": "17 U.S.C. 512(g)(2)(C) (10-14 business days after the provider's receipt)",
}


def events_from(state: str) -> list[str]:
    """The transition events a case in ``state`` accepts, in declaration order."""
    return [t.event for t in TRANSITIONS.values() if state in t.sources]
