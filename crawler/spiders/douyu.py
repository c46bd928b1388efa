"""Douyu live rooms (`www.douyu.com/<room>`): a live platform.

Rooms are sampled by ``earwitness live sample --room URL`` (yt-dlp's ``DouyuTV`` extractor
gives the HLS playlist; ffmpeg records it)."""

from crawler.spiders.ytdlp import LiveRoomAdapter


class DouyuSpider(LiveRoomAdapter):
    name = "douyu"
    platform = "douyu"
    ie_name = "DouyuTV"
