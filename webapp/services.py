"""What the web app asks of the other stages, handed in by the application layer.

The web app imports only the kernel: it reads records itself, but every change
(confirm, reject, case events, letters, exports, ledger checks) goes through the
owning stage's functions, which :func:`earwitness.app.web.services` puts here, so the
app never bypasses their rules or their audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app


@dataclass(frozen=True)
class Services:
    """The stages' operations the views call, as namespaces of functions.

    ``review``: ``confirm``, ``reject``, ``reopen`` (undo a decision); ``cases``: ``list_cases``, ``apply``, ``note``,
    ``allowed_events``; ``lifecycle``: ``STATES``, ``TRANSITIONS``, ``DISPUTE_BASES``;
    ``evidence``: ``bundle_for``; ``ledger``: ``verify``; ``letters``: ``draft``, ``blocks``,
    ``mark_sent``, ``withdraw``; ``export``: ``export``. ``error`` is the class of the
    stages' expected failures (shown to the user, never a 500); ``alignment(session,
    detection_id)`` gives the review picture's peak coordinates; ``site_checks(session)`` the
    crawler canary's latest row per site (``site``, ``state``, ``reason``, ``checked_at``, ``since``,
    ``paused`` when crawls are paused), for the Sites page; ``live_coverage(session, hours)`` the live
    rooms' coverage (``crawler.live_store.coverage``), for the Live page; ``job_runs(session)`` each
    daemon job's last run (``status``, ``red``, ``error``, ``started_at``, ``finished_at``,
    ``last_ok_at``), for the Status page.
    """

    review: Any
    cases: Any
    lifecycle: Any
    evidence: Any
    ledger: Any
    letters: Any
    export: Any
    error: type[Exception]
    alignment: Callable[[Any, str], dict]
    site_checks: Callable[[Any], dict]
    live_coverage: Callable[[Any, float], dict]
    job_runs: Callable[[Any], dict]


def services() -> Services:
    """The services of the running app."""
    return current_app.extensions["earwitness_services"]
