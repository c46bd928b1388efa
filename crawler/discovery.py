"""Discovery inside the platform's own page: read the JSON its scripts receive.

Douyin, Kuaishou, TikTok (and Xiaohongshu, Bilibili's web search) render search and sound
pages with their own JavaScript from API calls signed by obfuscated code. Rather than
re-implement a signature that changes every few weeks, :func:`discover_in_page` loads the
real page in a persistent, logged-in Chromium context (the site's kept login from
:mod:`crawler.logins`), listens to the responses of the configured API paths (Playwright
response interception), and reads entries out of that JSON with safe getters (a missing
optional field never fails). It scrolls until ``limit`` entries, the API says there is no
more, or ``max_scrolls``. The page's own code computes every signature.

Per platform, the site YAML says (``discovery:``)::

    page_url: "{base_url}/search?keyword={query}"   # the page a person would open
    api_paths: ["/api/search/item/"]                 # responses to read
    entries: data                                    # dotted path to the list of entries
    item: aweme_info                                 # dotted path inside one entry (optional)
    fields: {id: aweme_id, url: share_url, title: desc, ...}   # dotted paths inside the item
    url_template: "{base_url}/video/{id}"            # when the entry has no URL (any field by name)
    status: {path: status_code, ok: [0], needs_login: [8], blocked: [2483]}
    has_more: has_more
    login_path: /login                               # a redirect here means the login expired
    max_scrolls: 20

The answer is classified with :mod:`crawler.outcomes`: an expired login is ``needs_login``,
a captcha ``blocked``, a page that never called its API ``broken`` (naming the site and the
paths listened for) -- never an empty success.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from crawler import logins, outcomes, politeness
from crawler.browser import chromium_options  # noqa: F401  (the page discovery launches the same browser)
from crawler.config import SiteConfig

log = logging.getLogger(__name__)

NO_MORE = (None, 0, False, "", "0", "no_more")   # has_more values that mean "the last page"
FIELDS = ("id", "url", "title", "uploader", "uploader_id", "published_at", "duration_s", "view_count", "is_live",
          "category")


def dig(data: Any, path: str | None) -> Any:
    """``a.b.0.c`` into nested dicts and lists; None when any step is missing (never raises)."""
    if not path:
        return data
    for part in str(path).split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


@dataclass(frozen=True)
class PageDiscovery:
    """A site's ``discovery:`` block, checked once."""

    site: str
    page_url: str
    api_paths: tuple[str, ...]
    entries: str | None
    item: str | None
    fields: dict[str, str]
    url_template: str | None
    status: dict[str, Any]
    has_more: str | None
    login_path: str | None
    max_scrolls: int
    settle_ms: int
    timeout_ms: int

    @classmethod
    def of(cls, site: SiteConfig) -> "PageDiscovery":
        from crawler.errors import SiteConfigError
        d = site.get("discovery") or {}
        missing = [k for k in ("page_url", "api_paths", "fields") if not d.get(k)]
        if missing or "id" not in (d.get("fields") or {}):
            raise SiteConfigError(f"site {site.name!r}: discovery needs page_url, api_paths and fields.id "
                                  f"(missing: {', '.join(missing) or 'fields.id'})")
        return cls(site=site.name, page_url=str(d["page_url"]), api_paths=tuple(d["api_paths"]),
                   entries=d.get("entries"), item=d.get("item"), fields=dict(d["fields"]),
                   url_template=d.get("url_template"), status=dict(d.get("status") or {}),
                   has_more=d.get("has_more"), login_path=d.get("login_path"),
                   max_scrolls=int(d.get("max_scrolls", 20)), settle_ms=int(d.get("settle_ms", 600)),
                   timeout_ms=int(d.get("timeout_ms", 15000)))

    def classify(self, http_status: int, data: Any) -> outcomes.Answer:
        """One API answer: the platform's status code first (its JSON says why), then HTTP."""
        code = dig(data, self.status.get("path")) if self.status.get("path") else None
        msg = str(dig(data, self.status.get("message")) or "")[:200] if self.status.get("message") else ""
        if code is not None:
            for kind in ("needs_login", "blocked"):
                if code in (self.status.get(kind) or []):
                    return outcomes.Answer(kind, f"api_status_{code}", http_status, msg)
            if self.status.get("ok") is not None and code not in self.status["ok"]:
                said = outcomes.from_text(msg)
                if said and said[0] in outcomes.WALLS:
                    return outcomes.Answer(*said, http_status, msg)
                return outcomes.Answer("broken", f"api_status_{code}", http_status,
                                       msg or f"unknown status {code} (site {self.site}: discovery.status)")
        if http_status >= 400:
            return outcomes.from_http(http_status, text=msg)
        return outcomes.Answer("up", "still_up", http_status)

    def read_entries(self, data: Any) -> list[dict[str, Any]]:
        """The entries of one API answer, each as ``{field: value}``; entries without an id are skipped."""
        raw = dig(data, self.entries)
        out = []
        for entry in raw if isinstance(raw, list) else []:
            item = dig(entry, self.item)
            if not isinstance(item, dict):
                continue
            values = {k: dig(item, path) for k, path in self.fields.items() if k in FIELDS}
            if values.get("id") in (None, ""):
                continue
            values["id"] = str(values["id"])
            out.append(values)
        return out


@dataclass
class PageResult:
    """What one page gave: entries (in order, no repeats) and how the platform answered."""

    url: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    answer: outcomes.Answer = field(default_factory=lambda: outcomes.Answer("up", "still_up"))
    api_responses: int = 0
    scrolls: int = 0



def discover_in_page(site: SiteConfig, query: str, *, limit: int, profile_dir,
                     browser: dict[str, Any], user_agent: str | None = None,
                     on_entries: Callable[[list[dict[str, Any]]], None] | None = None) -> PageResult:
    """Open the site's page for ``query`` in a persistent logged-in context and read its API's JSON.

    ``profile_dir`` is the persistent browser profile (cookies and storage survive between
    crawls); the site's kept login is added to it. ``on_entries`` gets each new batch as it
    arrives (the frontier is fed while the page is still scrolling).
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
    spec = PageDiscovery.of(site)
    url = site.url(spec.page_url, query=query)
    result = PageResult(url=url)
    seen: set[str] = set()
    pending: list = []
    more = True

    def take(resp) -> None:
        parts = urlsplit(resp.url)   # an API path with "?" is matched with its query (an API at "/?m=...")
        if any(p in (f"{parts.path}?{parts.query}" if "?" in p else parts.path) for p in spec.api_paths):
            pending.append(resp)

    profile_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(profile_dir), user_agent=user_agent, **browser)
        try:
            state = logins.load_state(site.name)
            if state and state.get("cookies"):
                ctx.add_cookies(state["cookies"])
            page = ctx.new_page()
            page.on("response", take)
            politeness.route_politely(page, site)
            try:
                page.goto(url, wait_until="domcontentloaded", timeout=spec.timeout_ms)
            except PlaywrightError as exc:
                result.answer = outcomes.Answer("transient", "page_not_loaded", None, str(exc).splitlines()[0])
                return result
            deadline = time.monotonic() + spec.timeout_ms / 1000
            while True:
                page.wait_for_timeout(spec.settle_ms)
                while pending:
                    resp = pending.pop(0)
                    result.api_responses += 1
                    try:
                        data = resp.json()
                    except Exception:  # noqa: BLE001  playwright Error or bad JSON: the API changed
                        result.answer = outcomes.Answer("broken", "api_not_json", resp.status,
                                                        f"site {site.name}: {resp.url} did not answer JSON")
                        more = False
                        continue
                    answer = spec.classify(resp.status, data)
                    if answer.kind != "up":
                        result.answer, more = answer, False
                        continue
                    batch = [e for e in spec.read_entries(data) if e["id"] not in seen]
                    seen.update(e["id"] for e in batch)
                    for e in batch:
                        if not e.get("url") and spec.url_template:
                            e["url"] = site.url(spec.url_template, **{
                                k: quote(str(v), safe="") for k, v in e.items() if v is not None})
                    result.entries.extend(batch)
                    if on_entries is not None and batch:
                        on_entries(batch)
                    if spec.has_more and dig(data, spec.has_more) in NO_MORE:
                        more = False
                if result.answer.kind != "up" or not more or len(result.entries) >= limit:
                    break
                if result.api_responses == 0:
                    if spec.login_path and urlsplit(page.url).path.startswith(spec.login_path):
                        result.answer = outcomes.Answer("needs_login", "login_expired", None,
                                                        f"site {site.name}: the page sent us to {page.url}")
                        break
                    wall = outcomes.from_page(200, page.content())
                    if wall.is_wall:
                        result.answer = wall
                        break
                    if time.monotonic() > deadline:
                        result.answer = outcomes.Answer(
                            "broken", "no_api_response", None,
                            f"site {site.name}: {url} never called {', '.join(spec.api_paths)} "
                            f"(discovery.api_paths; the page or its API changed?)")
                        break
                    continue
                if result.scrolls >= spec.max_scrolls:
                    break
                # a step back up, then to the end: a scroll event even when already at the bottom
                page.evaluate("window.scrollBy(0, -200); window.scrollTo(0, document.body.scrollHeight)")
                result.scrolls += 1
        finally:
            ctx.close()
    del result.entries[limit:]
    return result
