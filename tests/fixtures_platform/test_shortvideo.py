"""The short-video site that fights back (fixtures/shortvideo.py), over real HTTP: its walls hold."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest


def _get(url, cookie=None):
    req = urllib.request.Request(url, headers={"Cookie": f"sv_sid={cookie}"} if cookie else {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


@pytest.fixture
def sv(platform):
    from fixtures import shortvideo
    return platform, shortvideo.site_of(platform.platform)


def _signed(base, keyword, *, cursor=0, nonce="n1"):
    from fixtures.shortvideo import _sign
    q = urlencode({"keyword": keyword, "cursor": cursor, "count": 5, "ts": int(time.time() * 1000), "nonce": nonce})
    path = "/sv/api/search"
    return f"{base}{path}?{q}&sign={_sign(path + '?' + q)}"


def test_login_wall(sv):
    server, site = sv
    status, _, headers = _get(f"{server.url}/sv/search?keyword=x")
    assert status == 302 and "/sv/login" in headers["Location"]
    status, body, _ = _get(f"{server.url}/sv/api/search?keyword=x")
    assert status == 401 and json.loads(body)["status_code"] == 8
    sid = site.issue_session()
    assert _get(f"{server.url}/sv/search?keyword=x", sid)[0] == 200
    site.expire_sessions()
    assert _get(f"{server.url}/sv/search?keyword=x", sid)[0] == 302


def test_search_api_wants_the_page_signature_once(sv):
    server, site = sv
    sid = site.issue_session()
    assert json.loads(_get(f"{server.url}/sv/api/search?keyword=", sid)[1])["status_code"] == 2154
    url = _signed(server.url, "", nonce="abc")
    status, body, _ = _get(url, sid)
    data = json.loads(body)
    assert status == 200 and data["status_code"] == 0 and len(data["data"]) == 5 and data["has_more"] == 1
    status, body, _ = _get(url, sid)               # the same request again: replayed
    assert status == 403 and json.loads(body)["status_code"] == 2155
    forged = url.replace("sign=", "sign=0")
    assert json.loads(_get(forged.replace("nonce=abc", "nonce=abd"), sid)[1])["status_code"] == 2154


def test_page_javascript_signs_like_the_server(sv):
    """The obfuscated signer, run by node-less Chromium elsewhere; here its arithmetic is checked
    against the server's in Python's reading of the same source (char codes, FNV-1a)."""
    from fixtures.shortvideo import SIGN_SECRET, _sign, _sign_js
    js = _sign_js()
    assert SIGN_SECRET not in js                  # the secret is not in the page in clear
    codes = [int(c) ^ 0x5A for c in js.split("[", 1)[1].split("]", 1)[0].split(",")]
    assert "".join(map(chr, codes)) == SIGN_SECRET and len(_sign("/x?y")) == 8


def test_captcha_after_n_requests_and_bot_walls(sv):
    server, site = sv
    site.captcha_after = 3
    sid = site.issue_session()
    walled = next(v for v in site.truth["videos"] if v["wall"])
    status, body, _ = _get(f"{server.url}/sv/video/{walled['id']}", sid)
    assert status == 200 and b"verify you are human" in body
    for _ in range(3):
        _get(f"{server.url}/sv/", sid)
    status, body, _ = _get(f"{server.url}/sv/", sid)
    assert status == 200 and b"Captcha" in body
    status, body, _ = _get(_signed(server.url, "", nonce="zz"), sid)
    assert status == 403 and json.loads(body)["status_code"] == 2483


def test_media_urls_are_signed_and_expire(sv):
    server, site = sv
    sid = site.issue_session()
    item = next(v for v in site.truth["videos"] if not v["wall"] and v["kind"] == "catalog")
    page = _get(f"{server.url}/sv/video/{item['id']}", sid)[1].decode()
    src = page.split('<source src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    status, body, headers = _get(server.url + src)           # the CDN needs no cookie
    assert status == 200 and headers["Content-Type"].startswith("video/") and len(body) > 10000
    assert _get(server.url + src.replace("sig=", "sig=f"))[0] == 403
    site.cdn_ttl_s = -5
    page = _get(f"{server.url}/sv/video/{item['id']}", sid)[1].decode()
    stale = page.split('<source src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    status, body, _ = _get(server.url + stale)
    assert status == 403 and b"expired" in body


def test_layout_variant_moves_the_title(sv):
    server, site = sv
    sid = site.issue_session()
    a = next(v for v in site.truth["videos"] if v["layout"] == "a" and not v["wall"] and v["kind"] != "removed")
    b = next(v for v in site.truth["videos"] if v["layout"] == "b" and not v["wall"] and v["kind"] != "removed")
    assert b'class="sv-title"' in _get(f"{server.url}/sv/video/{a['id']}", sid)[1]
    page_b = _get(f"{server.url}/sv/video/{b['id']}", sid)[1]
    assert b'class="sv-title"' not in page_b and b'class="sv-caption"' in page_b
