"""A site that answers with walls is paused with backoff; fetching anything ends the pause."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

T = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def test_walls_pause_with_backoff_and_a_fetch_ends_it(home):
    from crawler import pauses
    first = pauses.after_crawl("s", {"listing_blocked": 1, "listings": 1}, now=T)
    assert first["until"] == (T + timedelta(minutes=30)).isoformat(timespec="seconds") and first["state"] == "blocked"
    assert pauses.paused("s", now=T + timedelta(minutes=29)) and not pauses.paused("s", now=T + timedelta(minutes=31))
    second = pauses.after_crawl("s", {"blocked": 3}, now=T + timedelta(hours=1))
    assert second["strikes"] == 2 and second["until"] == (T + timedelta(hours=2)).isoformat(timespec="seconds")
    login = pauses.after_crawl("s", {"needs_login": 1}, now=T + timedelta(hours=3))
    assert login["state"] == "needs_login" and login["strikes"] == 3
    assert pauses.after_crawl("s", {"fetched": 1, "blocked": 1}, now=T + timedelta(hours=5)) is None
    assert pauses.load() == {}


def test_a_long_retry_after_wins_and_the_cap_holds(home):
    from crawler import pauses
    row = pauses.after_crawl("s", {"blocked": 1}, retry_after_s=7200, now=T)
    assert row["until"] == (T + timedelta(hours=2)).isoformat(timespec="seconds")
    for _ in range(10):
        row = pauses.after_crawl("s", {"blocked": 1}, now=T)
    assert row["until"] == (T + timedelta(hours=24)).isoformat(timespec="seconds")


def test_a_paused_site_is_not_crawled_until_resumed(home, store):
    from click.testing import CliRunner

    from crawler import pauses
    from crawler.run import crawl_site
    from earwitness.app.site_commands import sites
    pauses.after_crawl("fixture", {"blocked": 2})
    report = crawl_site("fixture", query="", timeout_s=5)
    assert not report.ok and report.counts == {"paused": 1} and "sites resume fixture" in report.errors[0]
    out = CliRunner().invoke(sites, ["resume", "fixture"])
    assert out.exit_code == 0 and "pause lifted" in out.output and pauses.paused("fixture") is None
