"""Twitch streams (`www.twitch.tv/<channel>`): a live platform.

Rooms are sampled or watched by ``earwitness live sample|watch --room URL`` (yt-dlp's
``TwitchStream`` extractor: the GraphQL stream metadata and playback token, then usher's HLS
playlist; :mod:`crawler.capture` skips the stitched ads). Rooms are found by search
(:mod:`crawler.rooms`): the search page (``/search?term=QUERY&type=channels``) posts the GraphQL
``SearchResultsPage_SearchResults`` query to ``/gql``; channels whose ``stream`` is null are
offline and skipped.
"""

from crawler.spiders.ytdlp import LiveRoomAdapter


class TwitchSpider(LiveRoomAdapter):
    name = "twitch"
    platform = "twitch"
    ie_name = "TwitchStream"
    room_search = {
        "home": "https://www.twitch.tv",
        "page_url": "{base_url}/search?term={query}&type=channels",
        "api_paths": ["/gql"],
        "entries": "data.searchFor.channels.edges",
        "item": "item",
        "fields": {"id": "login", "title": "broadcastSettings.title", "uploader": "displayName",
                   "uploader_id": "id", "view_count": "stream.viewersCount", "category": "stream.game.name",
                   "is_live": "stream.type"},
        "url_template": "{base_url}/{id}",
        "live_values": ["live"],
        "max_scrolls": 0,
    }
