"""Evidence bundles when the crawler keeps media, originals and page captures on S3 (moto_server):
the bundle reads them through the configured blob store and hashes them like local files."""

from __future__ import annotations

import hashlib

import pytest


def test_bundle_reads_captures_from_the_s3_blob_store(s3_settings, store, home):
    from earwitness.kernel.blobs import open_blob_store
    from earwitness.kernel.store.models import Clip, Detection, Work
    from fixtures.music import synthesize, write_wav
    from notices import evidence, ledger
    from notices.exceptions import EvidenceError

    blobs = open_blob_store()
    wav = write_wav(home / "tmp.wav", synthesize(1, 2.0))
    audio = blobs.move_in(wav, folder="media", suffix=".wav")
    original = blobs.put_bytes(b"\x00\x00\x00\x20ftypisom" + b"\x01" * 2048, folder="media/originals", suffix=".mp4")
    warc = blobs.put_bytes(b"WARC/1.1 gzipped network record", folder="evidence/pages", suffix=".warc.gz")
    assert not (home / audio.path).exists() and not (home / original.path).exists()   # on S3, not here
    with store.session() as s:
        s.add(Work(id="T001", title="Neon River", artist="Lin Qiao", owner="Example Music"))
        clip = Clip(platform="fixture", url="https://fixture.example/video/v1", media_id="v1",
                    audio_sha256=audio.sha256, media_path=audio.path, media_sha256=audio.sha256, duration_s=2.0,
                    original_path=original.path, original_sha256=original.sha256,
                    warc_path=warc.path, warc_sha256=warc.sha256, status="matched")
        s.add(clip)
        s.flush()
        det = Detection(clip_id=clip.id, work_id="T001", clip_offset_s=0.0, ref_offset_s=1.0, duration_s=2.0,
                        score=50.0, pitch_semitones=0.0, tempo_ratio=1.0, matched_peaks=60, matcher_version="t")
        s.add(det)
        s.flush()
        b = evidence.build_bundle(s, det.id)
        assert b.files["original.mp4"]["sha256"] == original.sha256
        assert b.files["network.warc.gz"]["sha256"] == hashlib.sha256(b"WARC/1.1 gzipped network record").hexdigest()
        assert b.files["clip.wav"]["sha256"] == audio.sha256
        # a capture the store no longer has is named, not skipped
        clip2 = Clip(platform="fixture", url="https://fixture.example/video/v2", media_id="v2",
                     audio_sha256=audio.sha256, media_path=audio.path, media_sha256=audio.sha256,
                     original_path=f"media/originals/00/{'0' * 64}.mp4", original_sha256="0" * 64, status="matched")
        s.add(clip2)
        s.flush()
        det2 = Detection(clip_id=clip2.id, work_id="T001", clip_offset_s=0.0, ref_offset_s=1.0, duration_s=2.0,
                         score=50.0, pitch_semitones=0.0, tempo_ratio=1.0, matched_peaks=60, matcher_version="t")
        s.add(det2)
        s.flush()
        with pytest.raises(EvidenceError, match="original of clip .* is missing"):
            evidence.build_bundle(s, det2.id)
    assert ledger.verify(home, store=store).ok
