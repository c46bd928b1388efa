"""Slow: the real matcher from detection to a re-check that finds the soundtrack replaced."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crawler.recheck import ProbeResult
from earwitness.kernel.store.models import Clip, utcnow
from fixtures.music import demo_songs, synthesize, write_catalog, write_wav
from notices import export, ledger, letters, recheck, review
from earwitness.kernel.store.case_models import Case

from tests.notices.conftest import sha

pytestmark = pytest.mark.slow


def test_match_confirm_letter_recheck(store, home, tmp_path):
    from earwitness.app.catalog import import_manifest
    from earwitness.app.matching import match_clip
    songs = demo_songs(2, duration_s=30.0)
    manifest = write_catalog(tmp_path / "catalog", songs)
    import_manifest(store, manifest)
    song = songs[0]
    excerpt = synthesize(song.seed, song.duration_s)[5 * 22050:17 * 22050]
    media = write_wav(home / "media" / "up1.wav", excerpt)
    other = write_wav(home / "media" / "replaced.wav", synthesize(4242, 12.0))
    with store.session() as s:
        clip = Clip(platform="fixture", url="http://127.0.0.1:9/video/up1", media_id="up1",
                    media_path="media/up1.wav", media_sha256=sha(media), audio_sha256=sha(media))
        s.add(clip)
        s.flush()
        dets = match_clip(s, clip)
        s.flush()
        assert [d.work_id for d in dets] == [song.track_id]
        case = review.confirm(s, dets[0].id, actor="analyst")
        notice = letters.draft(s, platform="fixture", lang="zh", actor="legal")
        export.export(s, notice.id, "zip", tmp_path / "out")
        letters.approve(s, notice.id, actor="legal")
        letters.mark_sent(s, notice.id, actor="legal", channel="email", recipient="x", sent_at=utcnow())
        case_id = case.id
    from earwitness.app.stage_jobs import audio_still_matches   # the matcher's audio test, as the daemon wires it
    still = recheck.recheck_due(store, audio_check=audio_still_matches, probe=lambda u, p: ProbeResult(
        u, p, False, "still_up", 200, utcnow(), audio_path="media/up1.wav"))
    assert (still.checked, still.removed, still.still_up) == (1, 0, 1)
    later = utcnow() + timedelta(hours=13)
    gone = recheck.recheck_due(store, now=later, audio_check=audio_still_matches, probe=lambda u, p: ProbeResult(
        u, p, False, "still_up", 200, utcnow(), audio_path="media/replaced.wav"))
    assert gone.removed == 1
    with store.session() as s:
        c = s.get(Case, case_id)
        assert c.state == "removed"
        assert c.events[-1].details["check"]["reason"] == "audio_no_longer_matches"
    assert other.exists() and ledger.verify(home, store=store).ok
