"""Discover clips on short-video and live sites, fetch their audio, hand them to the matcher.

Layout (Scrapy's): ``settings.py`` (the wiring), ``items.py`` (dataclass items),
``middlewares.py`` (retry with Retry-After, per-site proxy and user agent),
``pipelines.py`` (frontier, media fetch, clip store, match), ``spiders/`` (one
platform a file on :mod:`crawler.spiders.base`). ``media.py`` is the one fetch
path (yt-dlp then ffmpeg, content addressed) shared by crawls, live sampling
and :mod:`crawler.recheck`. ``run.py`` runs each crawl in a child process.
"""

from crawler.errors import (ContentGone, CrawlerError, FetchFailed, LayoutChanged,  # noqa: F401
                            MediaRejected, SiteConfigError)
from crawler import config as _config  # noqa: F401  (registers the "crawler" settings section)
from crawler import models as _models  # noqa: F401  (registers the crawler's tables on Base)
