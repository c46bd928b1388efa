"""The Live page: coverage of the live rooms watched (programme heard, share of airtime heard, last hit)
and the latest watch periods, so an operator sees which rooms are heard and which went quiet.

The coverage comes from ``services().live_coverage`` (the crawler's stored windows); the periods are
the ``live_coverage`` rows ``earwitness live watch`` and the daemon's ``live_watch`` job write.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request
from sqlalchemy import text

from webapp.services import services
from webapp.views import require

bp = Blueprint("live", __name__, url_prefix="/live")

PERIODS_SHOWN = 50


@bp.get("/")
@require("view")
def index():
    hours = request.args.get("hours", "24")
    try:
        hours_f = float(hours)
        if not 0 < hours_f <= 24 * 31:
            raise ValueError
    except ValueError:
        abort(400, f"hours={hours!r}: a number of hours, at most 744 (31 days)")
    cov = services().live_coverage(g.db, hours_f)
    periods = g.db.execute(text(
        "SELECT platform, room_id, url, title, period_start, period_end, heard_s, windows, plays, last_hit_at,"
        " outcome, reason FROM live_coverage ORDER BY period_end DESC LIMIT :n"), {"n": PERIODS_SHOWN}).mappings().all()
    return render_template("live.html", cov=cov, periods=periods, hours=hours_f)
