"""Coverage: the share of the last day's airtime per room and site that was recorded and matched."""

from datetime import timedelta


def _window(store, platform, room, start, seconds, status="matched"):
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        s.add(Clip(platform=platform, url=f"https://{platform}/{room}", media_id=f"{room}@{start.isoformat()}",
                   is_live=True, live_window_start=start, live_window_end=start + timedelta(seconds=seconds),
                   status=status, extra={"room_id": room}))


def test_coverage_counts_matched_airtime_once_per_room_and_averages_sites(store):
    from crawler.live_store import coverage
    from earwitness.kernel.store.models import utcnow
    now = utcnow()
    t = now - timedelta(hours=2)
    _window(store, "huya", "r1", t, 20)
    _window(store, "huya", "r1", t + timedelta(seconds=10), 20)        # overlaps: 30 s in all
    _window(store, "huya", "r2", t, 864)                                # 1 % of a day
    _window(store, "huya", "r2", t + timedelta(hours=1), 60, status="failed")   # not matched: not covered
    _window(store, "douyu", "r9", now - timedelta(hours=30), 600)       # older than a day
    _window(store, "twitch", "t1", now - timedelta(days=1, seconds=30), 60)     # half inside the day
    cov = coverage(store, now=now)
    rooms = {(r["platform"], r["room_id"]): r["share"] for r in cov["rooms"]}
    assert rooms[("huya", "r1")] == round(30 / 86400, 6)
    assert rooms[("huya", "r2")] == 0.01
    assert ("douyu", "r9") not in rooms
    assert rooms[("twitch", "t1")] == round(30 / 86400, 6)
    assert cov["sites"]["huya"] == round((30 / 86400 + 0.01) / 2, 6)


def test_status_shows_live_coverage(store):
    import json

    from click.testing import CliRunner

    from earwitness.app.cli import main
    from earwitness.kernel.store.models import utcnow
    _window(store, "huya", "r1", utcnow() - timedelta(hours=1), 864)
    out = CliRunner().invoke(main, ["status", "--json"])
    assert out.exit_code == 0, out.output
    cov = json.loads(out.stdout)["live_coverage"]
    assert cov["sites"] == {"huya": 0.01}
    text = CliRunner().invoke(main, ["status"]).output
    assert "live airtime heard (recorded and run through the matcher), last 24 h: huya 1.0%" in text and "huya/r1: 1.0%" in text
