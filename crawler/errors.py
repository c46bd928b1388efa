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

    ``reason`` is one of ``http_404``, ``http_410``, ``http_451``, ``private``,
    ``geo_blocked``, ``platform_removed``, ``not_live``.
    """

    def __init__(self, reason: str, url: str, http_status: int | None = None, detail: str = "") -> None:
        super().__init__(f"{url}: gone ({reason}){': ' + detail if detail else ''}")
        self.reason, self.url, self.http_status = reason, url, http_status


class MediaRejected(CrawlerError):
    """Expected outcome: the media breaks a configured limit (duration, size) or has no audio."""

    def __init__(self, reason: str, url: str, detail: str = "") -> None:
        super().__init__(f"{url}: rejected ({reason}){': ' + detail if detail else ''}")
        self.reason, self.url = reason, url


class FetchFailed(CrawlerError):
    """The fetch failed for a reason that may pass (network, 5xx after retries, decoder)."""
