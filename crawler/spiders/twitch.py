"""Twitch streams (`www.twitch.tv/<channel>`): a live platform.

Rooms are sampled by ``earwitness live sample --room URL`` (yt-dlp's ``TwitchStream`` extractor
gives the HLS playlist; ffmpeg records it)."""

from crawler.spiders.ytdlp import LiveRoomAdapter


class TwitchSpider(LiveRoomAdapter):
    name = "twitch"
    platform = "twitch"
    ie_name = "TwitchStream"
