"""Records for the concurrency and fault suites: works, clips with real audio files, pending detections."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Seeder:
    """Works, clips with real generated audio files, detections waiting for review."""

    def __init__(self, home: Path, store) -> None:
        self.home, self.store, self.n = home, store, 0

    def detection(self, *, work_id: str = "T001", media_id: str | None = None, platform: str = "fixture",
                  score: float = 85.0) -> str:
        from earwitness.kernel.store.models import Clip, Detection, Work
        from fixtures.music import synthesize, write_wav
        self.n += 1
        media_id = media_id or f"v{self.n:04d}"
        wav = write_wav(self.home / "media" / platform / f"{media_id}-{self.n}.wav", synthesize(self.n, 2.0))
        with self.store.session() as s:
            if s.get(Work, work_id) is None:
                s.add(Work(id=work_id, title=f"Song {work_id}", artist="Lin Qiao", isrc="CNA012600001",
                           owner="Example Music"))
                s.flush()
            clip = Clip(platform=platform, url=f"https://{platform}.example/video/{media_id}", media_id=media_id,
                        title=f"video {media_id}", uploader="uploader_a", captured_at=T0,
                        media_path=str(wav.relative_to(self.home)), media_sha256=_sha(wav),
                        audio_sha256=_sha(wav), status="matched", duration_s=2.0)
            s.add(clip)
            s.flush()
            det = Detection(clip_id=clip.id, work_id=work_id, clip_offset_s=0.5, ref_offset_s=12.25,
                            duration_s=15.0, score=score, pitch_semitones=-1.0, tempo_ratio=1.05,
                            matched_peaks=80, matcher_version="test-matcher-1", created_at=T0)
            s.add(det)
            s.flush()
            return det.id

    def case(self, state: str, *, media_id: str | None = None, platform: str = "fixture") -> str:
        """A case in ``state`` (with its opening event), as a letter or a re-check left it."""
        from earwitness.kernel.store.case_models import Case, CaseEvent
        self.n += 1
        media_id = media_id or f"c{self.n:04d}"
        with self.store.session() as s:
            case = Case(platform=platform, media_id=media_id, url=f"https://{platform}.example/video/{media_id}",
                        uploader="uploader_a", title=f"video {media_id}", state=state, opened_at=T0,
                        state_since=T0, sent_at=T0 if state == "notice_sent" else None)
            s.add(case)
            s.flush()
            s.add(CaseEvent(case_id=case.id, seq=1, event="opened", from_state=None, to_state=state,
                            actor="seed", at=T0, details={}))
            return case.id
