"""The daily canary: its rows live in the store, the daemon runs it, and `status` and the review app
show a site that needs a person (needs_login, blocked, paused) where an operator looks."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from earwitness.app.cli import main

T0 = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)


def _check(site: str, state: str, at: datetime, reason: str = "r"):
    from crawler.canary import SiteCheck
    return SiteCheck(site, state, reason, at.isoformat(timespec="seconds"))


def _only_canary(home, **kwargs) -> None:
    """<home>/earwitness.yaml: every shipped job off but the canary (with these kwargs)."""
    from earwitness.kernel import settings
    shipped = yaml.safe_load(open("config/scheduler.yaml", encoding="utf-8"))["jobs"]
    jobs = {name: False for name in shipped}
    jobs["canary"] = {"kwargs": kwargs}
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"scheduler": {"jobs": jobs}}))
    settings.configure(home)


def test_rows_are_kept_in_the_store_latest_per_site_with_since(store):
    from crawler import canary
    from crawler.models import SiteCheck
    from earwitness.kernel.store.models import OutboxEntry
    canary.record(store, [_check("fixture", "ok", T0), _check("shortvideo", "ok", T0)])
    canary.record(store, [_check("shortvideo", "needs_login", T0 + timedelta(days=1), "sent to /sv/login")])
    canary.record(store, [_check("shortvideo", "needs_login", T0 + timedelta(days=2), "sent to /sv/login")])
    with store.session() as s:
        rows = canary.latest(s)
        assert s.scalar(select(func.count()).select_from(SiteCheck)) == 4      # history is kept
        families = set(s.scalars(select(OutboxEntry.entity)))
    assert families == {"site_checks"}                                         # every row goes to the mirror
    assert rows["fixture"]["state"] == "ok"
    sv = rows["shortvideo"]
    assert (sv["state"], sv["reason"]) == ("needs_login", "sent to /sv/login")
    assert sv["checked_at"].startswith("2026-12-02") and sv["since"].startswith("2026-12-01"), sv
    assert [r["site"] for r in canary.needs_attention(rows)] == ["shortvideo"]


def test_status_shows_each_site_and_flags_needs_login_and_pauses(home, store):
    from crawler import canary, pauses
    canary.record(store, [_check("fixture", "ok", T0), _check("shortvideo", "needs_login", T0, "sent to /sv/login"),
                          _check("youtube", "unchecked", T0, "no canary configured")])
    pauses.after_crawl("douyin", {"listing_blocked": 3, "fetched": 0})     # walls only: crawls paused
    got = CliRunner().invoke(main, ["--home", str(home), "status", "--json"])
    assert got.exit_code == 0, got.output
    st = json.loads(got.stdout)
    assert st["sites"]["shortvideo"]["state"] == "needs_login"
    assert st["sites"]["douyin"]["paused"]["state"] == "blocked"
    assert st["sites_attention"] == ["shortvideo", "douyin"]                   # worst first
    text = CliRunner().invoke(main, ["--home", str(home), "status"]).output
    assert "sites (canary): 2 need attention" in text
    assert re.search(r"^ ! shortvideo\s+needs_login .*sent to /sv/login", text, re.M), text
    assert re.search(r"^ ! douyin\s+unchecked .*crawls paused until", text, re.M), text
    assert re.search(r"^   fixture\s+ok ", text, re.M) and re.search(r"^   youtube\s+unchecked", text, re.M), text


def test_status_says_when_no_site_was_ever_checked(home, store):
    text = CliRunner().invoke(main, ["--home", str(home), "status"]).output
    assert "sites: never checked" in text


def test_the_app_shows_the_rows_and_counts_sites_needing_attention_on_every_page(home, store, app_client):
    from crawler import canary
    client = app_client(store)
    assert 'id="nav-sites">Sites</a>' in client.get("/").get_data(as_text=True)   # nothing checked: no count
    canary.record(store, [_check("fixture", "ok", T0), _check("shortvideo", "needs_login", T0, "sent to /sv/login")])
    overview = client.get("/").get_data(as_text=True)
    assert re.search(r'id="nav-sites">Sites <b class="badge[^"]*"[^>]*>1</b>', overview), overview
    page = client.get("/sites/").get_data(as_text=True)
    assert '<tr data-site="shortvideo" data-state="needs_login">' in page
    assert '<tr data-site="fixture" data-state="ok">' in page
    assert 'id="sites-attention"' in page and "earwitness login SITE" in page and "sent to /sv/login" in page


def test_daemon_once_runs_the_canary_and_keeps_its_rows(site_home, store):
    """`daemon --once` runs the canary job on the fixture site (served here), rows in the store."""
    _only_canary(site_home, sites=["fixture"])
    got = CliRunner().invoke(main, ["--home", str(site_home), "daemon", "--once", "--json"])
    assert got.exit_code == 0, got.output
    (run,) = json.loads(got.stdout)
    assert run["job"] == "canary" and run["status"] == "ok", run
    assert run["result"]["checked"] == 1 and run["result"]["states"] == {"ok": 1}, run
    st = json.loads(CliRunner().invoke(main, ["--home", str(site_home), "status", "--json"]).stdout)
    assert st["sites"]["fixture"]["state"] == "ok" and st["sites_attention"] == []
    row = next(j for j in st["jobs"] if j["job"] == "canary")
    assert row["schedule"] and row["last_status"] == "ok"


def test_shipped_schedule_runs_the_canary_daily_in_once():
    from earwitness.app import jobs
    spec = next(s for s in jobs.load_jobs() if s.id == "canary")
    assert spec.func == "crawler.canary:canary_job" and spec.once
    assert "24" in spec.describe_trigger() or "1 day" in spec.describe_trigger(), spec.describe_trigger()


@pytest.mark.slow
def test_daemon_canary_covers_every_configured_site_and_an_unlogged_site_needs_login(site_home, platform,
                                                                                        monkeypatch, store):
    """The shipped job with no site list checks every configured site; the short-video site with no
    login kept answers with its login wall, so its row says needs_login (never an empty ok)."""
    from crawler import canary
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__SHORTVIDEO__BASE_URL", platform.url)
    _only_canary(site_home)
    got = CliRunner().invoke(main, ["--home", str(site_home), "daemon", "--once", "--json"])
    (run,) = json.loads(got.stdout)
    assert run["status"] == "ok", run
    st = json.loads(CliRunner().invoke(main, ["--home", str(site_home), "status", "--json"]).stdout)
    assert set(st["sites"]) == set(canary.configured_sites())
    assert st["sites"]["fixture"]["state"] == "ok", st["sites"]["fixture"]
    assert st["sites"]["shortvideo"]["state"] == "needs_login", st["sites"]["shortvideo"]
    assert "shortvideo: needs_login" in run["result"]["attention"]


@pytest.fixture
def youtube_canary(home, monkeypatch):
    """A canary block for the YouTube adapter (as a deployment sets it in earwitness.yaml)."""
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__TIMES", "0")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__YOUTUBE__CANARY__QUERY", "velvet morning")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__YOUTUBE__CANARY__ITEM",
                       "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__BILIBILI__CANARY__QUERY", "velvet morning")
    settings.configure(home)


def test_youtube_canary_runs_the_adapters_search_through_ytdlp_and_names_the_bot_check(youtube_canary, monkeypatch):
    """The known search goes through the adapter's own path (yt-dlp's YoutubeSearchIE on the replayed
    innertube answer), the known item through the fetch path (YoutubeIE meeting the bot check):
    the row is ``blocked`` naming the bot check, and the search part is ok. (Before: an adapter's
    canary query was never run and counted as ok.)"""
    from crawler import canary
    from tests.crawler.replay import replayed
    with replayed(monkeypatch, "youtube", "youtube_botcheck") as replay:
        row = canary.check_site("youtube")
    assert row.state == "blocked" and "item https://www.youtube.com/watch?v=dQw4w9WgXcQ: blocked (bot_check)" \
        in row.reason, row
    assert any(m == "POST" and "/youtubei/v1/search" in u for m, u in replay.log), replay.log


def test_bilibili_canary_search_is_ok_on_the_replayed_api(youtube_canary, monkeypatch):
    from crawler import canary
    from tests.crawler.replay import replayed
    with replayed(monkeypatch, "bilibili") as replay:
        row = canary.check_site("bilibili")
    assert row.state == "ok" and row.reason == "search bilisearch1:velvet morning: up (results)", row
    assert len(replay.log) == 1 and not replay.unmatched


def test_a_check_that_fails_is_a_failed_job_and_the_other_sites_are_still_checked(site_home, store):
    """A site whose discovery block is incomplete makes its own check raise: that site's row says the
    check failed, the fixture site is still checked and kept, and the job is failed (not ok)."""
    from earwitness.app import jobs
    from earwitness.kernel import settings
    (site_home / "sites").mkdir(exist_ok=True)
    (site_home / "sites" / "halfdone.yaml").write_text(
        "name: halfdone\nkind: browser\nbase_url: http://127.0.0.1:9\nvideo: {url_pattern: '/v/(?P<id>\\w+)'}\n"
        "discovery: {page_url: '{base_url}/s?q={query}'}\ncanary: {query: x}\n")
    _only_canary(site_home, sites=["halfdone", "fixture"])
    settings.configure(site_home)
    res = jobs.run_job("canary", "manual", store=store)
    assert res["status"] == "failed" and "halfdone: the canary check itself failed: SiteConfigError" in res["error"]
    from crawler import canary
    with store.session() as s:
        rows = canary.latest(s)
    assert rows["fixture"]["state"] == "ok" and rows["halfdone"]["state"] == "broken", rows
    assert "discovery needs page_url, api_paths" in rows["halfdone"]["reason"]


def test_an_extractor_counts_against_a_site_only_when_its_crawl_uses_it():
    """TikTok searched in its own page uses no tag or sound extractor (yt-dlp marks both not
    working): not broken. A configured start URL on a sound page does use one: broken, named."""
    from crawler import canary, config
    site = config.load_site("tiktok")
    assert canary.extractor_problems(site) == []
    with_sound = config.SiteConfig(name=site.name, platform=site.platform,
                                   raw={**site.raw, "start_urls": ["https://www.tiktok.com/music/x-6956990112127585029"]})
    assert canary.extractor_problems(with_sound) == ["yt-dlp marks its TikTokSound extractor as not working"]
