"""The short-video site over plain HTTP: API pagination, JS-only results, removed, throttled, Range."""

import json
import re

import pytest
from parsel import Selector


def test_home_and_robots(http):
    status, headers, body = http.get("/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"User-agent: *" in body and b"Allow: /" in body
    status, _, body = http.get("/")
    assert status == 200 and b'href="/shorts/"' in body and b'href="/live/"' in body


def test_search_api_paginates_over_every_video(http, platform):
    size = platform.platform.options.page_size
    seen, page = [], 1
    while True:
        status, data = http.json(f"/shorts/api/search?q=&page={page}")
        assert status == 200 and data["page"] == page
        assert len(data["items"]) <= size
        seen += data["items"]
        if not data["has_more"]:
            break
        assert len(data["items"]) == size
        page += 1
    truth_ids = {v["id"] for v in platform.truth["videos"]}
    assert page > 2, "a few items a page, so pagination matters"
    assert [i["id"] for i in seen] == sorted({i["id"] for i in seen}, key=[i["id"] for i in seen].index)
    assert {i["id"] for i in seen} == truth_ids
    item = seen[0]
    assert set(item) >= {"id", "title", "url", "uploader", "uploader_id", "duration_s", "views", "published_at"}
    assert item["url"] == f"{platform.url}/shorts/video/{item['id']}"
    dates = [i["published_at"] for i in seen]
    assert dates == sorted(dates, reverse=True)
    status, data = http.json(f"/shorts/api/search?q=&page={page + 1}")
    assert status == 200 and data["items"] == [] and data["has_more"] is False


@pytest.mark.parametrize("page", ["0", "-1", "two"])
def test_search_api_refuses_a_bad_page(http, page):
    status, data = http.json(f"/shorts/api/search?q=x&page={page}")
    assert status == 400 and "page" in data["error"]


def _all(http, api):
    items, page = [], 1
    while True:
        _, data = http.json(f"{api}{'&' if '?' in api else '?'}page={page}")
        items += data["items"]
        if not data["has_more"]:
            return items
        page += 1


def test_search_matches_title_artist_and_uploader_case_insensitively(http, platform):
    truth = {v["id"]: v for v in platform.truth["videos"]}
    # the uploader wrote the song's artist in the title: "<title> - <artist> (sped up)"
    hits = _all(http, "/shorts/api/search?q=lin+QIAO")
    assert hits and all("lin qiao" in (h["title"] + h["uploader"]).lower() for h in hits)
    assert "k7Qm2xLp01" in {h["id"] for h in hits}
    assert {h["id"] for h in _all(http, "/shorts/api/search?q=KIKI.dance")} == {"k7Qm2xLp01"}
    assert {h["id"] for h in _all(http, "/shorts/api/search?q=foodie")} == \
        {v for v, t in truth.items() if t["uploader_id"] == "foodiefei"}
    assert _all(http, "/shorts/api/search?q=no-such-words-anywhere") == []


def test_sound_pages_list_every_video_using_the_music(http, platform):
    status, data = http.json("/shorts/api/sounds")
    assert status == 200
    sounds = {s["id"]: s for s in data["items"]}
    truth = platform.truth["videos"]
    for sid, s in sounds.items():
        expected = {v["id"] for v in truth if v["sound_id"] == sid}
        got = _all(http, f"/shorts/api/sound/{sid}")
        assert {i["id"] for i in got} == expected and s["video_count"] == len(expected)
        assert s["url"] == f"{platform.url}/shorts/sound/{sid}"
    shared = [sid for sid, s in sounds.items() if s["video_count"] > 1]
    assert shared, "at least one sound used by several videos"
    status, data = http.json("/shorts/api/sound/0000")
    assert status == 404 and "error" in data


def test_search_and_sound_html_have_no_result_links_without_javascript(http, platform):
    status, headers, body = http.get("/shorts/search?q=lin+qiao")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = Selector(text=body.decode())
    assert page.css("#results") and not page.css("a.video-card")
    assert not [h for h in page.css("a::attr(href)").getall() if "/shorts/video/" in h]
    assert http.json("/shorts/api/search?q=lin+qiao")[1]["items"], "the API does have results"
    sid = platform.truth["videos"][0]["sound_id"]
    status, _, body = http.get(f"/shorts/sound/{sid}")
    page = Selector(text=body.decode())
    assert status == 200 and not [h for h in page.css("a::attr(href)").getall() if "/shorts/video/" in h]


def test_video_page_has_the_metadata_and_sources(http, platform):
    v = next(v for v in platform.truth["videos"] if v["id"] == "Mx8cJ5fVn5")
    status, _, body = http.get(f"/shorts/video/{v['id']}")
    html = body.decode()
    assert status == 200
    assert f'<h1 class="title">{v["title"]}</h1>' in html
    assert f'data-uploader-id="{v["uploader_id"]}"' in html
    assert f'<time class="published" datetime="{v["published_at"]}"' in html
    assert f'data-views="{v["views"]}"' in html
    assert len(re.findall(r"<source src=\"/shorts/media/", html)) == len(v["formats"]) == 2
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert ld["@type"] == "VideoObject" and ld["name"] == v["title"]
    assert ld["author"]["identifier"] == v["uploader_id"] and ld["uploadDate"] == v["published_at"]
    assert ld["interactionStatistic"]["userInteractionCount"] == v["views"]
    assert http.get("/shorts/video/nope")[0] == 404


def test_removed_video_answers_410_after_its_first_visit(http, platform):
    v = next(v for v in platform.truth["videos"] if v["kind"] == "removed")
    media = v["formats"][0]["url"]
    assert http.get(media, {"Range": "bytes=0-9"})[0] == 206  # before anyone saw the page
    assert http.get(v["url"])[0] == 200
    for path in (v["url"], v["url"], media):
        status, headers, body = http.get(path)
        assert status == 410 and b"removed" in body
    platform.reset()
    assert http.get(v["url"])[0] == 200
    status, data = http.json("/shorts/api/truth")
    assert status == 200 and data["videos"][0]["id"] == platform.truth["videos"][0]["id"]
    req_status, _, _ = http.get("/shorts/api/reset", method="POST")
    assert req_status == 200 and http.get(v["url"])[0] == 200 and http.get(v["url"])[0] == 410


def test_removed_status_can_be_404(platform_root, home):
    from fixtures.platform import serve
    from tests.fixtures_platform.client import Http
    with serve(port=0, root=platform_root, build=False, removed_status=404) as server:
        v = next(v for v in server.truth["videos"] if v["kind"] == "removed")
        http = Http(server.url)
        assert [http.get(v["url"])[0] for _ in range(2)] == [200, 404]


def test_throttled_page_answers_429_with_retry_after_then_recovers(http, platform):
    v = next(v for v in platform.truth["videos"] if v["kind"] == "throttled")
    n = platform.platform.options.throttle_requests
    for _ in range(n):
        status, headers, _ = http.get(v["url"])
        assert status == 429 and int(headers["Retry-After"]) >= 1
    status, _, body = http.get(v["url"])
    assert status == 200 and v["title"].encode() in body
    assert http.get(v["url"])[0] == 200


def test_media_range_requests(http, platform):
    v = next(v for v in platform.truth["videos"] if v["id"] == "Mx8cJ5fVn5")
    files = {f["container"]: f for f in v["formats"]}
    size = (platform.root / "media" / files["mp4"]["file"]).stat().st_size
    url = files["mp4"]["url"]
    status, headers, body = http.get(url)
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert int(headers["Content-Length"]) == size == len(body) and headers["Accept-Ranges"] == "bytes"
    status, headers, part = http.get(url, {"Range": "bytes=100-199"})
    assert status == 206 and part == body[100:200] and headers["Content-Range"] == f"bytes 100-199/{size}"
    assert int(headers["Content-Length"]) == 100
    status, headers, part = http.get(url, {"Range": f"bytes={size - 10}-"})
    assert status == 206 and part == body[-10:]
    status, _, part = http.get(url, {"Range": "bytes=-5"})
    assert status == 206 and part == body[-5:]
    status, _, part = http.get(url, {"Range": f"bytes=10-{size + 500}"})
    assert status == 206 and part == body[10:]
    status, headers, part = http.get(url, {"Range": f"bytes={size}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}" and part == b""
    status, headers, part = http.get(url, method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) == size and part == b""
    status, headers, _ = http.get(files["webm"]["url"])
    assert status == 200 and headers["Content-Type"] == "audio/webm"
    m4a = next(f for x in platform.truth["videos"] for f in x["formats"] if f["container"] == "m4a")
    assert http.get(m4a["url"])[1]["Content-Type"] == "audio/mp4"
    assert http.get("/shorts/media/..%2Ftruth.json")[0] == 404
    assert http.get("/shorts/media/nothing.mp4")[0] == 404


def test_live_directory_api_and_offline_room(http, platform):
    status, rooms = http.json("/live/api/rooms")
    assert status == 200 and isinstance(rooms, list)
    by_id = {r["id"]: r for r in rooms}
    assert set(by_id) == {"room101", "room202", "room303"}
    assert by_id["room101"]["hls_url"] == f"{platform.url}/live/hls/room101/index.m3u8"
    assert by_id["room303"]["is_live"] is False and by_id["room303"]["hls_url"] is None
    status, _, body = http.get("/live/")
    assert status == 200 and not Selector(text=body.decode()).css("a.room-card")
    status, _, body = http.get("/live/room/room303")
    assert status == 200 and b'data-live="false"' in body
    assert http.get("/live/hls/room303/index.m3u8")[0] == 404
    status, data = http.json("/live/api/rooms/room303/programme")
    assert status == 200 and data["running"] is False and data["items"] == []
    assert http.get("/live/api/rooms/nope/programme")[0] == 404
    assert platform.ffmpeg_pids() == []  # nothing started for an offline room
