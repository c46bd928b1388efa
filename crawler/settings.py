"""Scrapy settings for one crawl of one site: the whole component chain in one place.

Playwright lives in the download layer: requests whose meta says ``playwright``
go through scrapy-playwright's handler (Debian's chromium, the flags below),
the rest through Scrapy's plain HTTP handler.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import default_settings

from crawler import config


def _login_state(site: config.SiteConfig) -> dict[str, Any]:
    """The browser context starts with the site's kept login (:mod:`crawler.logins`), if any."""
    from crawler import logins
    path = logins.state_path(site.name)
    return {"storage_state": str(path)} if path.is_file() else {}


def scrapy_settings(site: config.SiteConfig) -> dict[str, Any]:
    """Scrapy settings for a crawl of ``site`` from the ``crawler`` section and the site's YAML."""
    sec = config.section()
    chromium = sec["chromium"]
    throttle = {**sec["autothrottle"], **(site.get("autothrottle") or {})}
    retry = sec["retry"]
    per_domain = int(site.option("per_domain_concurrency", 4))
    return {
        "BOT_NAME": "earwitness",
        "USER_AGENT": site.option("user_agent"),
        "ROBOTSTXT_OBEY": bool(site.option("obey_robots", True)),
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "LOG_ENABLED": True,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "REACTOR_THREADPOOL_MAXSIZE": 10,
        "CONCURRENT_REQUESTS": int(sec["concurrency"]),
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_domain,
        "DOWNLOAD_DELAY": float(site.option("download_delay_s", 0.0)),
        "AUTOTHROTTLE_ENABLED": bool(throttle["enabled"]),
        "AUTOTHROTTLE_START_DELAY": float(throttle["start_delay_s"]),
        "AUTOTHROTTLE_MAX_DELAY": float(throttle["max_delay_s"]),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(throttle["target_concurrency"]),
        "RETRY_ENABLED": True,
        "RETRY_TIMES": int(retry["times"]),
        "RETRY_HTTP_CODES": list(retry["http_codes"]),
        # Scrapy's default network errors, plus the browser's (net::ERR_CONNECTION_RESET, timeouts)
        "RETRY_EXCEPTIONS": [*default_settings.RETRY_EXCEPTIONS, "playwright.async_api.Error"],
        "EARWITNESS_RETRY_BACKOFF_BASE": float(retry["backoff_base_s"]),
        "EARWITNESS_RETRY_MAX_BACKOFF": float(retry["max_backoff_s"]),
        "EARWITNESS_PROXY": site.option("proxy"),
        "EARWITNESS_SITE": site.name,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
            "crawler.logins.LoginCookiesMiddleware": 701,   # after Scrapy's cookie jar (700)
            "crawler.politeness.PoliteMiddleware": 560,     # one per-domain pace with yt-dlp and the browser
            "crawler.middlewares.ProxyMiddleware": 740,
        },
        "ITEM_PIPELINES": {
            "crawler.pipelines.MediaPipeline": 300,
        },
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None},
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": chromium["executable_path"],
            "args": list(chromium["args"]),
            "headless": True,
            **({"proxy": {"server": site.option("proxy")}} if site.option("proxy") else {}),
        },
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": int(chromium["navigation_timeout_ms"]),
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": int(chromium["max_pages"]),
        "PLAYWRIGHT_CONTEXTS": {"default": {"user_agent": site.option("user_agent"),
                                            "viewport": {"width": 1280, "height": 900},
                                            **_login_state(site)}},
        # the browser renders pages, it does not stream media: the pipeline fetches audio once
        "PLAYWRIGHT_ABORT_REQUEST": "crawler.middlewares.abort_media_request",
    }
