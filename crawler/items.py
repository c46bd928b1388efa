"""Items: plain dataclasses. Only identity fields are required; the rest may be missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class VideoItem:
    """One item page seen by a spider, ready for the media pipeline.

    ``screenshot`` (stamped with URL and time), ``warc`` (the page's network record) and ``html``
    are the page as captured (evidence; :mod:`crawler.page_capture`); ``gone_reason``
    is set when the page itself said the item is gone (404/410), and then no
    media is fetched.
    """

    site: str
    platform: str
    url: str
    media_id: str
    title: str | None = None
    uploader: str | None = None
    uploader_id: str | None = None
    published_at: str | None = None
    view_count: int | None = None
    duration_s: float | None = None
    is_live: bool = False
    media_url: str | None = None      # a media file URL seen on the page (sites yt-dlp cannot extract)
    query: str | None = None
    found_on: str | None = None
    http_status: int | None = None
    gone_reason: str | None = None
    html: bytes | None = field(default=None, repr=False)
    screenshot: bytes | None = field(default=None, repr=False)
    warc: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
