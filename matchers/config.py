"""Every fingerprint parameter in one frozen object, with a digest.

Changing any field changes what the index holds, so the digest is stored in the
index and checked on load: an index built with other settings is refused, not
silently misread. Query-only knobs (how hard to search, the threshold) live in
:class:`QueryConfig` and can change freely.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FingerprintConfig:
    """What the index is built from. Units: Hz, samples, frames (one hop), log-frequency bins."""

    sample_rate: int = 8000          # analysis rate; everything is resampled to it
    n_fft: int = 1024                # 128 ms window
    hop_length: int = 128            # 16 ms per frame
    fmin: float = 130.0              # lowest log-frequency bin centre, Hz
    fmax: float = 3700.0             # highest, Hz
    bins_per_octave: int = 36        # 3 bins per semitone: pitch shifts move peaks by whole bins
    # peak picking: a peak is the maximum of its (2*peak_frames+1) x (2*peak_bins+1) neighbourhood
    peak_frames: int = 10
    peak_bins: int = 8
    peaks_per_second: float = 24.0   # density cap (strongest peaks kept per second)
    peak_floor_db: float = 55.0      # peaks quieter than the loudest by more than this are ignored
    # key family: 3 = triplets (anchor i, then j, k later in time), the most robust; 4 = quads (i, j, k, l),
    # about a twentieth of the hits per query, for catalogs past some 10 000 works (README "Catalog scale")
    points: int = 3
    neighbours: int = 6              # index: the later peaks among the next `neighbours` peaks
    triplets_per_anchor: int = 6     # index: at most this many tuples per anchor
    min_gap_frames: float = 1.0      # t_j - t_i and t_k - t_j at least this
    max_span_frames: float = 64.0    # t_k - t_i at most this (about 1 s)
    max_df_bins: int = 63            # |f_j - f_i|, |f_k - f_j| at most this (21 semitones)
    ratio_levels: int = 16           # quantisation of (t_j - t_i) / (t_k - t_i)
    span_steps_per_octave: float = 3.0  # quantisation of log2(t_k - t_i)
    band_bins: int = 48              # coarse band of the anchor frequency (4 bands)

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def bins_per_semitone(self) -> float:
        return self.bins_per_octave / 12.0

    def digest(self) -> str:
        """Short hash of every field: the index's compatibility key. Fields added later are left out at
        the value every index had before them, so an index built then still opens."""
        fields = {k: v for k, v in asdict(self).items() if _ADDED_LATER.get(k, object()) != v}
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def __post_init__(self) -> None:
        if self.points not in (3, 4):
            raise ValueError(f"points must be 3 (triplets) or 4 (quads), not {self.points}")


# fields added after indexes were built, with the value those indexes were built with
_ADDED_LATER = {"points": 3}


@dataclass(frozen=True)
class QueryConfig:
    """How a query searches and decides; does not affect the index.

    The default range is the one commercial services document: pitch shifts down to
    -12 semitones (a clip slowed to half speed is an octave down) and up to +12, time
    scales from 1/2 to 2 (speed x0.5 ... x1.5 and tempo edits inside it). The score
    is corrected for the size of the range searched (see ``matchers.match.range_penalty``),
    so the threshold means the same false-alarm rate whatever range is configured.
    """

    neighbours: int = 10             # query triplets use more neighbours than the index
    peaks_per_second: float | None = None  # query peak density cap (None: the index's)
    # query peaks may be maxima of a smaller neighbourhood than the index's (frames, bins each side;
    # None: the index's): a music partial under louder speech is seldom the loudest point of the
    # index's large one. Off by default: measured, it finds more speech-covered music but lets
    # unrelated music score higher too (README, "Speech over music").
    peak_frames: int | None = None
    peak_bins: int | None = None
    # background pass (music under louder speech, the vlog case): when the first pass reports nothing,
    # search again with dense small-neighbourhood peaks that hold their level (speech glides and stops,
    # music's partials hold), over the small range background music is played at (README, "Speech over music")
    background_pass: bool = True
    background_peak_frames: int = 3
    background_peak_bins: int = 3
    background_peaks_per_second: float = 48.0
    background_hold_frames: int = 2
    background_hold_db: float = 4.0
    background_neighbours: int = 15
    background_max_pitch_semitones: float = 1.0
    background_max_tempo_ratio: float = 1.06
    max_tempo_ratio: float = 2.0     # accepted |time scale| range: 1/x .. x
    max_pitch_semitones: float = 12.0
    max_bucket: int = 48             # index keys holding more entries than this are skipped (stop words)
    candidates: int = 10             # (work, offset) cells verified per query, at most
    threshold: float = 11.0           # score at or above which a match is reported (README: "The threshold")

    def peak_neighbourhood(self, cfg: FingerprintConfig) -> tuple[int, int]:
        return (self.peak_frames or cfg.peak_frames, self.peak_bins or cfg.peak_bins)


DEFAULT = FingerprintConfig()
DEFAULT_QUERY = QueryConfig()
