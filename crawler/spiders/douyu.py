"""Douyu live rooms (`www.douyu.com/<room>`): a live platform.

Rooms are sampled or watched by ``earwitness live sample|watch --room URL`` (yt-dlp's ``DouyuTV``
extractor runs the room page's signing JS through ``phantomjs``, see :mod:`crawler.js_runtime`, and
gives the HTTP-FLV URL). Rooms are found by search (:mod:`crawler.rooms`): Douyu's search page
(``/search/?kw=QUERY``) asks ``/japi/search/api/searchShow?kw=QUERY&page=1&pageSize=20``, whose
``data.relateShow`` lists rooms (``rid``, ``roomName``, ``nickName``, ``hot`` as "2.4万",
``cateName``, ``isLive``); ``error`` other than 0 is reported, never read as "no rooms".
"""

from crawler.spiders.ytdlp import LiveRoomAdapter


class DouyuSpider(LiveRoomAdapter):
    name = "douyu"
    platform = "douyu"
    ie_name = "DouyuTV"
    room_search = {
        "home": "https://www.douyu.com",
        "page_url": "{base_url}/search/?kw={query}",
        "api_paths": ["/japi/search/api/searchShow"],
        "entries": "data.relateShow",
        "fields": {"id": "rid", "title": "roomName", "uploader": "nickName", "view_count": "hot",
                   "category": "cateName", "is_live": "isLive"},
        "url_template": "{base_url}/{id}",
        "status": {"path": "error", "message": "msg", "ok": [0]},
        "live_values": [1, "1", True],
        "max_scrolls": 0,
    }
