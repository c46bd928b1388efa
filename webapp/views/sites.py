"""The Sites page: the crawler canary's latest row per site, and a count on every page's menu.

The rows come from ``services().site_checks`` (the daemon's daily ``canary`` job and ``earwitness
sites check`` write them); a site that needs a new login, answers with walls, cannot be reached
or changed its layout is counted next to "Sites" in the menu, so an operator sees it on any page.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template

from webapp.services import services
from webapp.views import require

bp = Blueprint("sites", __name__, url_prefix="/sites")

# what an operator does about each state (the canary's states: crawler/canary.py)
ACTIONS = {
    "needs_login": "the kept login expired: `earwitness login SITE --cookies FILE` (or --qr), then `earwitness sites resume SITE`",
    "blocked": "the site answers with a bot wall, captcha or rate limit: wait out the pause, lower requests_per_second, or change the proxy",
    "unreachable": "no answer (network, DNS, proxy, region): check the machine's route to the site",
    "broken": "the page, API or yt-dlp extractor changed: update yt-dlp or the site's configuration",
}


def _attention(rows: dict) -> list[dict]:
    return [r for r in rows.values() if r["state"] in ACTIONS or r.get("paused")]


@bp.app_context_processor
def _menu_count():
    """How many sites need a person, for the menu (only for a logged-in user; one small query)."""
    if g.get("user") is None or g.get("db") is None:
        return {}
    return {"sites_attention": len(_attention(services().site_checks(g.db)))}


@bp.get("/")
@require("view")
def index():
    rows = services().site_checks(g.db)
    return render_template("sites.html", rows=rows, attention=_attention(rows), actions=ACTIONS)
