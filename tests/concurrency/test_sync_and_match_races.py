"""Issue 16, failures 3 and 4 (match x match): the mirror never goes stale; two matchers match a clip once."""

from __future__ import annotations


import numpy as np
from sqlalchemy import func, select

from earwitness.kernel.store.models import Clip, Detection, OutboxEntry


def test_a_sync_that_read_before_a_change_never_overwrites_it(db, es_settings, race, seed):
    det = seed.detection()
    # the slow sync has read the detection as "pending" and built its document, then waits
    slow = race.start("sync", pause="earwitness.app.elastic.documents:build:after:detections", name="slow")
    race.reached("slow", slow)
    rc, out = race.result(race.start("reject-and-sync", det, name="change"))
    assert rc == 0, out
    race.release("slow")
    rc, out_slow = race.result(slow)
    assert rc == 0, out_slow
    es = es_settings.client()
    alias = f"{es_settings.prefix}-detections"
    es.indices.refresh(index=alias)
    doc = es.get(index=alias, id=det).body["_source"]
    with db.session() as s:
        assert s.scalar(select(Detection.review_state).where(Detection.id == det)) == "rejected"
        assert s.scalar(select(func.count()).select_from(OutboxEntry)) == 0
    assert doc["review_state"] == "rejected"          # the mirror says what the store says


def _catalog_and_backlog(home, db, n_clips: int = 3) -> list[str]:
    """A two-work catalog and ``n_clips`` fetched clips cut from the first work."""
    from earwitness.app import catalog
    from earwitness.kernel.store.models import utcnow
    from fixtures.music import SAMPLE_RATE, synthesize, write_wav
    from matchers.catalog import CatalogEntry
    works = []
    for n in (1, 2):
        path = write_wav(home / "catalog" / f"W{n}.wav", synthesize(100 + n, 30.0))
        works.append(CatalogEntry(f"W{n}", path, title=f"Work {n}", artist="Lin Qiao"))
    catalog.import_catalog(db, works)
    song = synthesize(101, 30.0)
    ids = []
    with db.session() as s:
        for i in range(n_clips):
            start = int((2 + 6 * i) * SAMPLE_RATE)
            wav = write_wav(home / "media" / "fixture" / f"c{i}.wav", song[start:start + 8 * SAMPLE_RATE]
                            + np.float32(0.01) * np.random.default_rng(i).standard_normal(8 * SAMPLE_RATE,
                                                                                          dtype=np.float32))
            clip = Clip(platform="fixture", url=f"https://fixture.example/video/c{i}", media_id=f"c{i}",
                        media_path=str(wav.relative_to(home)), audio_sha256=f"sha-c{i}", captured_at=utcnow(),
                        status="fetched")
            s.add(clip)
            s.flush()
            ids.append(clip.id)
    return ids


def test_two_matchers_on_one_backlog_match_each_clip_once(db, race, home):
    ids = _catalog_and_backlog(home, db)
    # the first matcher has matched the first clip and waits before committing it
    slow = race.start("match", pause="earwitness.app.matching:match_clip:after", name="first")
    race.reached("first", slow, timeout_s=120)
    other = race.start("match", mark="earwitness.app.matching:match_backlog", name="second")
    race.entered("second", other, settle_s=3.0)   # the second has listed the backlog and is at the first clip
    race.release("first")
    rc1, out1 = race.result(slow)
    rc2, out2 = race.result(other)
    assert (rc1, rc2) == (0, 0), (out1, out2)
    assert out1["failed"] == out2["failed"] == 0, (out1, out2)
    assert out1["matched"] + out2["matched"] == len(ids)       # every clip matched, by one of them
    with db.session() as s:
        clips = s.scalars(select(Clip)).all()
        dets = s.scalars(select(Detection)).all()
    assert {c.status for c in clips} == {"matched"}
    assert sorted(d.clip_id for d in dets) == sorted(ids)     # one detection per clip, none twice
    assert {d.work_id for d in dets} == {"W1"}
