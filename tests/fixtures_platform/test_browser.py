"""A real Chromium (Debian's, launched by Playwright) sees the JS-rendered results."""

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_chromium_sees_search_results_and_loads_more(platform, browser):
    page = browser.new_page()
    page.goto(f"{platform.url}/shorts/search?q=", wait_until="domcontentloaded")
    page.wait_for_selector('#results[data-state="done"]', timeout=15000)
    size = platform.platform.options.page_size
    hrefs = page.eval_on_selector_all("a.video-card", "els => els.map(e => e.getAttribute('href'))")
    assert len(hrefs) == size and all(h.startswith("/shorts/video/") for h in hrefs)
    total = len(platform.truth["videos"])
    while page.is_visible("#load-more"):
        n = page.locator("a.video-card").count()
        page.click("#load-more")
        page.wait_for_function("n => document.querySelectorAll('a.video-card').length > n", arg=n)
        page.wait_for_selector('#results[data-state="done"]')
    hrefs = page.eval_on_selector_all("a.video-card", "els => els.map(e => e.getAttribute('href'))")
    assert sorted(hrefs) == sorted(f"/shorts/video/{v['id']}" for v in platform.truth["videos"])
    assert len(hrefs) == total


def test_chromium_sees_a_query_a_sound_page_and_the_live_directory(platform, browser):
    page = browser.new_page()
    page.goto(f"{platform.url}/shorts/search?q=Lin+Qiao", wait_until="domcontentloaded")
    page.wait_for_selector('#results[data-state="done"]', timeout=15000)
    titles = page.eval_on_selector_all("a.video-card .card-title", "els => els.map(e => e.textContent)")
    assert titles and all("lin qiao" in t.lower() for t in titles)

    video = next(v for v in platform.truth["videos"] if v["id"] == "k7Qm2xLp01")
    page.goto(f"{platform.url}/shorts/sound/{video['sound_id']}", wait_until="domcontentloaded")
    page.wait_for_selector('#results[data-state="done"]', timeout=15000)
    hrefs = set(page.eval_on_selector_all("a.video-card", "els => els.map(e => e.getAttribute('href'))"))
    assert hrefs == {v["url"] for v in platform.truth["videos"] if v["sound_id"] == video["sound_id"]}

    page.goto(f"{platform.url}/shorts/search?q=nothing-matches-this", wait_until="domcontentloaded")
    page.wait_for_selector('#results[data-state="empty"]', timeout=15000)
    assert page.locator("a.video-card").count() == 0

    page.goto(f"{platform.url}/live/", wait_until="domcontentloaded")
    page.wait_for_selector('#rooms[data-state="done"]', timeout=15000)
    rooms = page.eval_on_selector_all("a.room-card", "els => els.map(e => e.getAttribute('href'))")
    assert sorted(rooms) == ["/live/room/room101", "/live/room/room202", "/live/room/room303"]


def test_chromium_renders_a_video_page(platform, browser):
    page = browser.new_page()
    v = next(v for v in platform.truth["videos"] if v["id"] == "Mx8cJ5fVn5")
    page.goto(platform.url + v["url"], wait_until="load")
    assert page.text_content("h1.title") == v["title"]
    assert page.get_attribute("a.uploader", "data-uploader-id") == v["uploader_id"]
    srcs = page.eval_on_selector_all("#player source", "els => els.map(e => e.getAttribute('src'))")
    assert srcs == [f["url"] for f in v["formats"]]
    assert page.screenshot()[:8] == b"\x89PNG\r\n\x1a\n"
