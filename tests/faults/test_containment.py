"""Issue 16, failures 4, 5 and 7: one bad item never stalls a job; short transactions; a stop between items."""

from __future__ import annotations

import os
import sqlite3
import threading

import numpy as np
import pytest
from sqlalchemy import select

from earwitness.kernel.store.models import Clip, Detection


def _song_clip(home, s, song, name: str, start_s: float, captured_at):
    from fixtures.music import SAMPLE_RATE, write_wav
    start = int(start_s * SAMPLE_RATE)
    samples = song[start:start + 8 * SAMPLE_RATE]
    samples = samples + np.float32(0.01) * np.random.default_rng(len(name)).standard_normal(len(samples),
                                                                                             dtype=np.float32)
    wav = write_wav(home / "media" / "fixture" / f"{name}.wav", samples)
    clip = Clip(platform="fixture", url=f"https://fixture.example/video/{name}", media_id=name,
                media_path=str(wav.relative_to(home)), audio_sha256=f"sha-{name}", captured_at=captured_at,
                status="fetched")
    s.add(clip)
    s.flush()
    return clip.id


def test_a_work_in_the_index_but_not_the_table_fails_its_clip_alone(home, store):
    """Failure 4: the bad clip is recorded with its reason; the clip queued behind it is matched."""
    from datetime import timedelta
    from earwitness.app import catalog, matching
    from earwitness.kernel.store.models import utcnow
    from fixtures.music import synthesize, write_wav
    from matchers.catalog import CatalogEntry, import_entries
    ghost, real = synthesize(201, 30.0), synthesize(202, 30.0)
    # the crash between the two writes: fingerprints in the index, no row in the works table
    import_entries(catalog.open_index(), [CatalogEntry("GHOST", write_wav(home / "cat" / "ghost.wav", ghost))])
    catalog.import_catalog(store, [CatalogEntry("REAL", write_wav(home / "cat" / "real.wav", real),
                                                title="Real", artist="A")])
    t = utcnow()
    with store.session() as s:
        bad = _song_clip(home, s, ghost, "bad", 5, t)
        good = _song_clip(home, s, real, "good", 5, t + timedelta(seconds=1))
    result = matching.match_backlog(store).as_dict()
    assert result["status"] == "partial" and result["matched"] == 1 and result["failed"] == 1, result
    with store.session() as s:
        assert s.get(Clip, good).status == "matched"
        assert [d.work_id for d in s.scalars(select(Detection).where(Detection.clip_id == good))] == ["REAL"]
        failed = s.get(Clip, bad)
        assert failed.status == "failed" and "catalog import" in failed.error
    assert any(bad in e for e in result["errors"])
    assert matching.match_backlog(store).clips == 0          # nothing left stuck in the queue


@pytest.mark.skipif(os.environ.get("EARWITNESS_TEST_STORE") == "postgres",
                    reason="about SQLite's database-wide write lock (PostgreSQL locks rows)")
def test_auto_confirm_never_holds_the_write_lock_between_detections(home, store, seed, monkeypatch):
    """Failure 5: while auto-confirm works through its queue another writer gets in at once."""
    from earwitness.kernel import settings
    from notices import jobs as notices_jobs, review
    monkeypatch.setenv("EARWITNESS__NOTICES__AUTO_CONFIRM__ENABLED", "true")
    settings.configure(home)
    ids = [seed.detection(media_id=f"item-{n}") for n in range(3)]
    db_path = settings.get().store_url[len("sqlite:///"):]
    real_confirm = review.confirm
    other_writer: list[str] = []

    def confirm_then_let_another_writer_in(session, detection_id, **kw):
        if detection_id != ids[0]:          # between detections: another process's write must get in
            conn = sqlite3.connect(db_path, timeout=0.5)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                other_writer.append("in")
            except sqlite3.OperationalError as exc:
                other_writer.append(str(exc))
            finally:
                conn.close()
        return real_confirm(session, detection_id, **kw)

    monkeypatch.setattr(review, "confirm", confirm_then_let_another_writer_in)
    result = notices_jobs.capture_evidence(store)
    assert other_writer == ["in", "in"], other_writer
    assert result["auto_confirmed"] == 3 and result["status"] == "ok", result


def test_match_backlog_stops_between_clips(home, store, monkeypatch):
    """Failure 7: a stop set while the backlog runs ends it after the clip in hand."""
    from earwitness.app import matching
    stop = threading.Event()
    real = matching.match_clip
    calls = []

    def match_and_ask_to_stop(session, clip):
        calls.append(clip.id)
        stop.set()
        return real(session, clip)

    with store.session() as s:
        for i in range(5):
            s.add(Clip(platform="fixture", url=f"u{i}", media_id=f"m{i}", status="fetched"))
    monkeypatch.setattr(matching, "match_clip", match_and_ask_to_stop)
    result = matching.match_backlog(store, stop=stop)
    assert len(calls) == 1 and result.stopped
    with store.session() as s:
        assert len(s.scalars(select(Clip).where(Clip.status == "fetched")).all()) == 4
