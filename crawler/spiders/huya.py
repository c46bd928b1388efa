"""Huya live rooms (`www.huya.com/<room>`): a live platform.

Rooms are sampled by ``earwitness live sample --room URL`` (yt-dlp's ``HuyaLive`` extractor
gives the HLS playlist; ffmpeg records it)."""

from crawler.spiders.ytdlp import LiveRoomAdapter


class HuyaSpider(LiveRoomAdapter):
    name = "huya"
    platform = "huya"
    ie_name = "HuyaLive"
