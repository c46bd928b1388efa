"""Window audio is kept only for evidence of hits: a matched live window without a detection of its own
loses its file after matching (its clip row stays, naming what was removed); a window with a detection,
one not matched yet, and a file another clip shares keep their audio."""

from datetime import timedelta

import numpy as np


def _window(store, room: str, *, status="matched", samples=None):
    from crawler import media
    from crawler.live_store import wav_bytes
    from earwitness.kernel.store.models import Clip, utcnow
    rng = np.random.default_rng(sum(map(ord, room)))
    pcm = samples if samples is not None else rng.integers(-2000, 2000, 22050, dtype=np.int16)
    sha, rel = media.store_bytes(wav_bytes(pcm, 22050), folder="media", suffix=".wav")
    t = utcnow()
    with store.session() as s:
        clip = Clip(platform="fixture", url=f"http://127.0.0.1/live/room/{room}", media_id=f"{room}@{t.isoformat()}",
                    is_live=True, live_window_start=t, live_window_end=t + timedelta(seconds=1), status=status,
                    audio_sha256=sha, media_path=rel, media_sha256=sha, extra={"room_id": room})
        s.add(clip)
    return clip.id, rel


def _detect(store, clip_id):
    from earwitness.kernel.store.models import Detection, Work
    with store.session() as s:
        if s.get(Work, "w1") is None:
            s.add(Work(id="w1", title="A Song", artist="Someone"))
            s.flush()
        s.add(Detection(clip_id=clip_id, work_id="w1", clip_offset_s=0, ref_offset_s=0, duration_s=1, score=20,
                        pitch_semitones=0, tempo_ratio=1, matcher_version="t"))


def test_only_windows_with_a_detection_keep_their_audio(store):
    from crawler.live_store import drop_window_audio
    from earwitness.kernel import settings
    from earwitness.kernel.store.models import Clip
    quiet, quiet_rel = _window(store, "r1")
    hit, hit_rel = _window(store, "r2")
    _detect(store, hit)
    waiting, waiting_rel = _window(store, "r3", status="fetched")     # not matched yet: the backlog needs it
    assert drop_window_audio(store, quiet) is True
    assert drop_window_audio(store, hit) is False and drop_window_audio(store, waiting) is False
    home = settings.get()
    assert not home.path(quiet_rel).exists()
    assert home.path(hit_rel).exists() and home.path(waiting_rel).exists()
    with store.session() as s:
        c = s.get(Clip, quiet)
        assert c.media_path is None and c.extra["audio_dropped"]["media_path"] == quiet_rel
        assert c.extra["audio_dropped"]["media_sha256"] == c.media_sha256 and c.extra["room_id"] == "r1"
    assert drop_window_audio(store, quiet) is False                  # nothing left to drop


def test_a_file_another_clip_shares_stays(store):
    from crawler.live_store import drop_window_audio
    from earwitness.kernel import settings
    silence = np.zeros(22050, dtype=np.int16)
    a, rel = _window(store, "r4", samples=silence)
    b, rel_b = _window(store, "r5", samples=silence)                 # same bytes: the same stored file
    assert rel == rel_b
    assert drop_window_audio(store, a) is True
    assert settings.get().path(rel).exists()                         # r5 still points at it
    assert drop_window_audio(store, b) is True
    assert not settings.get().path(rel).exists()
