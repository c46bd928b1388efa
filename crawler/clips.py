"""The one way a stored piece of audio becomes a ``Clip`` row, for VOD items and live windows alike."""

from __future__ import annotations

from typing import Any

from crawler import config
from crawler.media import StoredAudio
from earwitness.kernel.store.models import Clip


def new_clip(*, platform: str, url: str, media_id: str, audio: StoredAudio, evidence: dict[str, str | None],
             uploader: str | None = None, uploader_id: str | None = None, status: str = "fetched",
             **fields: Any) -> Clip:
    """A clip for ``audio`` just stored: its hash, path and duration, the page evidence, and whether the
    uploader is a licensed account (their uploads are matched but never raised for review).

    ``fields`` are the other columns (title, captured_at, is_live, live window, extra...).
    """
    return Clip(platform=platform, url=url, media_id=media_id, uploader=uploader, uploader_id=uploader_id,
                licensed=config.is_licensed(platform, uploader_id, uploader),
                audio_sha256=audio.audio_sha256, media_path=audio.media_path, media_sha256=audio.audio_sha256,
                duration_s=audio.duration_s, status=status, **evidence, **fields)
