"""The Status page: each daemon job's last run, red when it failed, did part of its work or was cut
short, with a count on every page's menu, so a stalled monitor is seen without a shell.

The runs come from ``services().job_runs`` (the daemon's run history, ``earwitness status`` reads
the same rows); the app only shows them.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template

from webapp.services import services
from webapp.views import require

bp = Blueprint("status", __name__, url_prefix="/status")

# what a person does about each red state
ACTIONS = {
    "failed": "the run did nothing useful: read its error, fix the cause, the next run retries",
    "partial": "some items failed (named in the error); the rest were done and the failed ones are retried",
    "interrupted": "the process ended before the job did (stop, crash); it resumes at the next start",
}


def _red(runs: dict) -> dict:
    return {job: run for job, run in runs.items() if run.get("red")}


@bp.app_context_processor
def _menu_count():
    """How many jobs' last runs are red, for the menu (only for a logged-in user; one small query)."""
    if g.get("user") is None or g.get("db") is None:
        return {}
    return {"jobs_red": len(_red(services().job_runs(g.db)))}


@bp.get("/")
@require("view")
def index():
    runs = dict(sorted(services().job_runs(g.db).items()))
    return render_template("status.html", runs=runs, red=_red(runs), actions=ACTIONS)
