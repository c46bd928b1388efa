"""The overview: counts by state and platform, and detections over time as an SVG chart."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from webapp import backend
from webapp.charts import stacked_bars

bp = Blueprint("overview", __name__)


@bp.get("/")
def index():
    series = backend.detections_per_day(g.db, days=30)
    chart = stacked_bars(series, keys=backend.REVIEW_STATES,
                         colours={"pending": "#d9a521", "confirmed": "#c0392b", "rejected": "#7f8c8d",
                                  "licensed": "#2e86c1"})
    return render_template("overview.html", review=backend.review_counts(g.db), states=backend.REVIEW_STATES,
                           by_platform=backend.detections_by_platform(g.db),
                           cases=backend.cases_by_state_platform(g.db), chart=chart,
                           total_30d=sum(sum(v.values()) for _, v in series))
