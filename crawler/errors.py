"""The crawler's exceptions: one root, expected outcomes kept apart from bugs."""


class CrawlerError(Exception):
    """Root of every error the crawler raises on purpose."""


class SiteConfigError(CrawlerError):
    """A site's YAML is missing, malformed or names an unknown key."""


class LayoutChanged(CrawlerError):
    """A page no longer has what a site's selector expects (names site and selector)."""

    def __init__(self, site: str, selector: str, url: str, what: str = "no match") -> None:
        super().__init__(f"site {site!r}: selector {selector!r} found {what} on {url}; "
                         f"the page layout may have changed (edit config/sites/{site}.yaml)")
        self.site, self.selector, self.url = site, selector, url


class ContentGone(CrawlerError):
    """Expected outcome, not a bug: the platform removed, hid or geo-blocked the item.

    ``kind`` (see :mod:`crawler.outcomes`) is ``gone``, ``private``, ``geo_blocked`` or
    ``offline``; ``reason`` the cause: ``http_404``, ``http_410``, ``http_451``,
    ``platform_removed``, ``private``, ``geo_blocked``, ``not_live``.
    """

    def __init__(self, reason: str, url: str, http_status: int | None = None, detail: str = "",
                 kind: str | None = None) -> None:
        super().__init__(f"{url}: gone ({reason}){': ' + detail if detail else ''}")
        self.reason, self.url, self.http_status, self.detail = reason, url, http_status, detail
        self.kind = kind or {"private": "private", "geo_blocked": "geo_blocked",
                             "not_live": "offline"}.get(reason, "gone")


class Refused(CrawlerError):
    """The platform put a wall in front of us (``kind`` ``blocked``: bot check, captcha, rate
    limit; ``needs_login``: sign-in wall, age gate, expired login). Says nothing about the
    item: never a removal. ``retry_after_s`` is the server's Retry-After, if it gave one."""

    def __init__(self, kind: str, reason: str, url: str, http_status: int | None = None, detail: str = "",
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"{url}: {kind} ({reason}){': ' + detail if detail else ''}")
        self.kind, self.reason, self.url, self.http_status = kind, reason, url, http_status
        self.detail, self.retry_after_s = detail, retry_after_s


class MediaRejected(CrawlerError):
    """Expected outcome: the media breaks a configured limit (duration, size) or has no audio."""

    def __init__(self, reason: str, url: str, detail: str = "") -> None:
        super().__init__(f"{url}: rejected ({reason}){': ' + detail if detail else ''}")
        self.reason, self.url = reason, url


class FetchFailed(CrawlerError):
    """The fetch failed: ``kind`` ``transient`` (network, 5xx after retries, a time limit) may
    pass; ``broken`` (an extractor or layout that no longer fits, a redirect loop) needs a fix."""

    def __init__(self, message: str, *, kind: str = "transient", reason: str = "error",
                 http_status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.reason, self.http_status = kind, reason, http_status
