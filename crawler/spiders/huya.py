"""Huya live rooms (`www.huya.com/<room>`): a live platform.

Rooms are sampled or watched by ``earwitness live sample|watch --room URL`` (yt-dlp's ``HuyaLive``
extractor gives the HTTP-FLV URL; :mod:`crawler.capture` reads it). Rooms are found by search
(:mod:`crawler.rooms`): Huya's search page (``/search?hsk=QUERY``) asks
``search.cdn.huya.com/?m=Search&do=getSearchContent&q=QUERY&typ=-5...`` and lists the live rooms of
its answer's ``response.3.docs`` (room id, live title, anchor, viewers, category).
"""

from crawler.spiders.ytdlp import LiveRoomAdapter


class HuyaSpider(LiveRoomAdapter):
    name = "huya"
    platform = "huya"
    ie_name = "HuyaLive"
    room_search = {
        "home": "https://www.huya.com",
        "page_url": "{base_url}/search?hsk={query}",
        "api_paths": ["?m=Search&do=getSearchContent"],
        "entries": "response.3.docs",
        "fields": {"id": "room_id", "title": "game_introduction", "uploader": "game_nick", "uploader_id": "uid",
                   "view_count": "game_total_count", "category": "gameName"},
        "url_template": "{base_url}/{id}",
        "max_scrolls": 0,
    }
