"""The short-video site that fights back, crawled as a user would: `earwitness login`, then a crawl
whose discovery runs inside the platform's own page; walls end as walls; the canary tells."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner
from sqlalchemy import select

pytestmark = pytest.mark.slow


@pytest.fixture
def sv_home(site_home, platform, monkeypatch):
    """A data home whose ``shortvideo`` site points at the fixture platform; its site state reset."""
    from earwitness.kernel import settings
    from fixtures import shortvideo
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__SHORTVIDEO__BASE_URL", platform.url)
    settings.configure(site_home)
    site = shortvideo.site_of(platform.platform)
    site.captcha_after, site.cdn_ttl_s = 10_000, 60.0
    return site_home, site


def _cookies_txt(path, sid):
    path.write_text("# Netscape HTTP Cookie File\n"
                    f"127.0.0.1\tFALSE\t/\tFALSE\t{int(time.time()) + 3600}\tsv_sid\t{sid}\n")
    return path


def _login_with_cookies(home, site):
    from earwitness.app.site_commands import login
    got = CliRunner().invoke(login, ["shortvideo", "--cookies", str(_cookies_txt(home / "export.txt",
                                                                                   site.issue_session()))])
    assert got.exit_code == 0, got.output
    for name in ("shortvideo.json", "shortvideo.cookies.txt"):
        assert os.stat(home / "logins" / name).st_mode & 0o077 == 0      # owner-only
    assert os.stat(home / "logins").st_mode & 0o077 == 0


def test_full_crawl_after_login_finds_every_upload_and_walls_stay_walls(sv_home, catalog_store, platform):
    from crawler.models import FrontierEntry
    from crawler.run import crawl_site
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel.store.case_models import Case
    from earwitness.kernel.store.models import Clip, Detection
    home, site = sv_home
    _login_with_cookies(home, site)
    report = crawl_site("shortvideo", query="", on_clip_stored=match_stored_clip, timeout_s=900)
    assert report.ok, report
    assert report.counts["api_responses"] >= 4        # the page's own signed calls, read from the browser
    truth = {v["id"]: v for v in site.truth["videos"]}
    with catalog_store.session() as s:
        rows = {r.media_id: r for r in s.scalars(select(FrontierEntry).where(FrontierEntry.site == "shortvideo"))}
        works = {}
        for clip in s.scalars(select(Clip).where(Clip.platform == "shortvideo")):
            works[clip.media_id] = {d.work_id for d in s.scalars(select(Detection).where(Detection.clip_id == clip.id))}
        assert s.scalar(select(Case.id)) is None                # a crawl moves no case
    assert set(rows) == set(truth), "every upload behind the login wall was found"
    for vid, v in truth.items():
        row = rows[vid]
        if v["wall"]:
            assert row.state == "failed" and row.reason.startswith("blocked"), (vid, row.state, row.reason)
        elif v["kind"] == "removed":
            assert (row.state, row.http_status) == ("gone", 410)
        else:
            assert row.state == "fetched", (vid, row.state, row.reason)
            if v["kind"] == "catalog":
                assert works[vid] == {v["track_id"]}, (vid, works[vid])
            elif v["kind"] == "noncatalog":
                assert not works[vid], (vid, works[vid])
    assert report.counts["blocked"] == sum(v["wall"] for v in truth.values())
    assert not any(r.state == "gone" for r in rows.values() if truth[r.media_id]["wall"])


def test_expired_login_and_captcha_in_sites_check(sv_home, platform, store, app_client):
    from earwitness.app.site_commands import sites
    home, site = sv_home
    _login_with_cookies(home, site)
    ok = CliRunner().invoke(sites, ["check", "shortvideo", "--json"])
    rows = json.loads(ok.stdout)
    assert ok.exit_code == 0 and [(r["site"], r["state"]) for r in rows] == [("shortvideo", "ok")], ok.output
    assert set(rows[0]) == {"site", "state", "reason", "checked_at"}
    site.expire_sessions()
    expired = CliRunner().invoke(sites, ["check", "shortvideo", "--json"])
    row = json.loads(expired.stdout)[0]
    assert expired.exit_code == 1 and row["state"] == "needs_login", row
    # the same row in `earwitness status` (flagged) and in the review app (its Sites page, the menu's count)
    from earwitness.app.cli import main
    status = CliRunner().invoke(main, ["--home", str(home), "status"]).output
    assert re.search(r"^ ! shortvideo\s+needs_login ", status, re.M), status
    client = app_client(store)
    assert '<tr data-site="shortvideo" data-state="needs_login">' in client.get("/sites/").get_data(as_text=True)
    assert re.search(r'id="nav-sites">Sites <b class="badge[^"]*"[^>]*>1</b>', client.get("/").get_data(as_text=True))
    _login_with_cookies(home, site)
    site.captcha_after = 0
    walled = json.loads(CliRunner().invoke(sites, ["check", "shortvideo", "--json"]).stdout)[0]
    assert walled["state"] == "blocked", walled
    from crawler import canary
    with store.session() as s:
        assert canary.latest(s)["shortvideo"]["state"] == "blocked"


def test_every_configured_site_gets_a_row(sv_home, store):
    """`earwitness sites check --json` with no names: one row per configured site, each with site,
    state, reason, checked_at. No traffic leaves 127.0.0.1: the real adapters have no canary here, so
    they are 'unchecked' unless yt-dlp itself marks an extractor their crawl uses as not working; the
    short-video site, with no login kept, answers with its login wall."""
    from crawler import canary
    from crawler.spiders import ADAPTERS
    from earwitness.app.site_commands import sites
    got = CliRunner().invoke(sites, ["check", "--json"])
    listed = json.loads(got.stdout)
    assert got.exit_code == 1, got.output                      # shortvideo is not ok
    assert [r["site"] for r in listed] == canary.configured_sites()
    assert all(set(r) == {"site", "state", "reason", "checked_at"} and r["state"] in canary.STATES for r in listed)
    rows = {r["site"]: r for r in listed}
    assert set(ADAPTERS) <= set(rows) and "fixture" in rows
    assert rows["tiktok"]["state"] == "unchecked", rows["tiktok"]   # searched in its own page, not yt-dlp's
    assert rows["youtube"]["state"] == "unchecked"
    assert rows["fixture"]["state"] == "ok", rows["fixture"]
    assert rows["shortvideo"]["state"] == "needs_login", rows["shortvideo"]
    with store.session() as s:
        assert {site: r["state"] for site, r in canary.latest(s).items()} == {r["site"]: r["state"] for r in listed}


def test_qr_login_by_a_scripted_scan(sv_home):
    from crawler import config, discovery, logins
    home, site = sv_home
    shown = []
    done = {}

    def run():
        try:
            done["path"] = logins.qr_login(config.load_site("shortvideo"), qr_path=home / "qr.png", timeout_s=60,
                                           on_qr=shown.append, browser=discovery.chromium_options(config.section()))
        except Exception as exc:  # noqa: BLE001  reported by the assertion below
            done["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 60
    while not (shown and site.pending_qr()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shown and (home / "qr.png").read_bytes()[:4] == b"\x89PNG"
    base = config.load_site("shortvideo").base_url
    for token in site.pending_qr():            # the phone scans what the picture shows
        urllib.request.urlopen(urllib.request.Request(f"{base}/sv/login/qr/{token}/scan", data=b"", method="POST"))
    t.join(60)
    assert "error" not in done, done
    state = logins.load_state("shortvideo")
    sid = next(c["value"] for c in state["cookies"] if c["name"] == "sv_sid")
    assert site.session(f"sv_sid={sid}") is not None


def test_captcha_mid_crawl_and_in_rechecks_is_blocked_and_moves_no_case(sv_home, catalog_store, platform):
    """The captcha interstitial switched on a few requests into the session: the crawl's walls end as
    ``blocked`` (never ``gone``), and five re-checks of a sent case on that site, through the
    crawler's real probe, leave it sent with each probe recorded as blocked."""
    from datetime import datetime, timedelta, timezone

    from crawler.models import FrontierEntry
    from crawler.recheck import probe
    from crawler.run import crawl_site
    from earwitness.kernel.store.case_models import Case
    from notices import recheck
    home, site = sv_home
    _login_with_cookies(home, site)
    truth = {v["id"]: v for v in site.truth["videos"]}
    item = next(v for v in truth.values() if v["kind"] == "catalog" and not v["wall"])
    sent_at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with catalog_store.session() as s:
        case = Case(platform="shortvideo", media_id=item["id"], url=f"{platform.url}/sv/video/{item['id']}",
                    state="notice_sent", opened_at=sent_at, state_since=sent_at, sent_at=sent_at)
        s.add(case)
        s.flush()
        case_id = case.id
    site.captcha_after = 6                       # the page and a few signed calls, then the captcha
    report = crawl_site("shortvideo", query="", timeout_s=900)
    walls = report.counts.get("blocked", 0) + report.counts.get("listing_blocked", 0)
    assert walls >= 1, report.counts
    with catalog_store.session() as s:
        rows = list(s.scalars(select(FrontierEntry).where(FrontierEntry.site == "shortvideo")))
    for row in rows:
        if row.state == "gone":      # only what the platform itself removed (410), never a wall
            assert truth[row.media_id]["kind"] == "removed" and row.http_status == 410, (row.media_id, row.reason)
        elif row.state == "failed":
            assert not row.reason.startswith("gone"), (row.media_id, row.reason)
    for i in range(5):
        res = recheck.recheck_due(catalog_store, probe=probe, now=sent_at + timedelta(days=3, hours=13 * i))
        assert res.removed == 0, res
    with catalog_store.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "notice_sent" and case.removed_at is None
        checks = [e.details["check"] for e in case.events if e.event == "recheck"]
        assert len(checks) == 5 and {c["outcome"] for c in checks} == {"blocked"}, checks
