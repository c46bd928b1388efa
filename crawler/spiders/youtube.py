"""YouTube: search (yt-dlp ``ytsearch``), channels and their Shorts tab (``/@handle/shorts``)."""

from crawler.spiders.ytdlp import YtdlpSpider


class YoutubeSpider(YtdlpSpider):
    name = "youtube"
    platform = "youtube"
    search_template = "ytsearch{n}:{query}"
    listing_examples = ("https://www.youtube.com/@YouTube/shorts",)
    entry_rx = r"(?:youtube\.com/(?:watch\?v=|shorts/)|youtu\.be/)(?P<id>[0-9A-Za-z_-]{11})"

    def entry_url(self, entry):
        url = super().entry_url(entry)
        if url and not url.startswith("http") and entry.get("id"):
            return f"https://www.youtube.com/watch?v={entry['id']}"
        return url
