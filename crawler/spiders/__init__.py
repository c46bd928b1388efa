"""Spiders: one platform a file on :class:`crawler.spiders.base.BaseSpider`.

``spider_for(site)`` picks the class: a site with a YAML in ``config/sites/`` is
crawled by the configurable spider; the real platforms have adapters.
"""

from __future__ import annotations

import importlib

from crawler.config import SiteConfig, load_site
from crawler.errors import SiteConfigError

ADAPTERS = {
    "bilibili": "crawler.spiders.bilibili:BilibiliSpider",
    "youtube": "crawler.spiders.youtube:YoutubeSpider",
    "tiktok": "crawler.spiders.tiktok:TiktokSpider",
    "douyin": "crawler.spiders.douyin:DouyinSpider",
    "kuaishou": "crawler.spiders.kuaishou:KuaishouSpider",
    "huya": "crawler.spiders.huya:HuyaSpider",
    "douyu": "crawler.spiders.douyu:DouyuSpider",
    "twitch": "crawler.spiders.twitch:TwitchSpider",
}


def spider_for(site: str | SiteConfig):
    """The spider class that crawls ``site``."""
    cfg = site if isinstance(site, SiteConfig) else load_site(site)
    kind = cfg.get("kind")
    if kind == "configurable":
        from crawler.spiders.configurable import ConfigurableSiteSpider
        return ConfigurableSiteSpider
    if kind == "browser":
        from crawler.spiders.browser import BrowserSpider
        return BrowserSpider
    if kind == "ytdlp":
        from crawler.spiders.ytdlp import ListingSpider
        return ListingSpider
    target = ADAPTERS.get(cfg.get("adapter") or cfg.name)
    if target is None:
        raise SiteConfigError(f"unknown site {cfg.name!r}: add config/sites/{cfg.name}.yaml "
                              f"or use one of {sorted(ADAPTERS)}")
    module, attr = target.split(":")
    cls = getattr(importlib.import_module(module), attr)
    if getattr(cls, "live_only", False):
        raise SiteConfigError(f"{cfg.name} is a live platform: sample its rooms with "
                              f"`earwitness live sample --room URL` (or crawler.live.rooms)")
    return cls


def live_platform_of(url: str) -> str | None:
    """The live adapter (huya, douyu, twitch) whose yt-dlp extractor accepts ``url``."""
    for name, target in ADAPTERS.items():
        module, attr = target.split(":")
        cls = getattr(importlib.import_module(module), attr)
        if getattr(cls, "live_only", False) and cls.room_id(url):
            return name
    return None
