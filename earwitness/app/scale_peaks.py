"""Synthetic distractor works for the catalog-scale bench: peak streams shaped like real music's.

The matcher's audio front end (decode, spectrogram, peaks) costs the same whatever
the catalog's size; what grows is the index. So 100 000 works of distractors do not
need audio, only peak streams whose statistics the index and the query feel:

- the **peak rate and timing**: the gaps between consecutive peaks (in frames) are
  drawn from every gap measured on the public corpus's catalog tracks (so chords,
  runs and pauses come in the measured proportions, and so does the rate);
- the **frequency distribution**: each peak's log-frequency bin follows a first-order
  Markov chain whose transition counts (bin of one peak -> bin of the next) were
  measured on the same tracks, so both the bins' overall distribution and the
  intervals between neighbouring peaks (what a triplet key encodes) match the corpus;
  the sub-bin position is uniform within the bin.

The hashes are then made by the matcher's own ``index_keys``, exactly as for audio.
Real music has structure the chain does not (repeats, keys, beats), so the distractors'
keys are spread more evenly than real ones; :meth:`PeakModel.describe` prints the
hashes per peak of both, so the difference is on the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from matchers.config import FingerprintConfig
from matchers.hashes import index_keys
from matchers.index import WorkFingerprint
from matchers.peaks import Peaks

LEVELS = 1024        # resolution of each transition row's inverse CDF


@dataclass(frozen=True)
class PeakModel:
    """What was measured on real fingerprints, in the form the generator samples from."""

    gaps: np.ndarray          # float32, every consecutive-peak gap (frames) of the corpus
    first_bin: np.ndarray     # int16 [LEVELS], inverse CDF of the bins overall
    next_bin: np.ndarray      # int16 [n_bins, LEVELS], inverse CDF of the next peak's bin given this one's
    peaks_per_s: float
    hashes_per_peak: float
    hours: float
    works: int

    @classmethod
    def measure(cls, fingerprints: list[WorkFingerprint], cfg: FingerprintConfig) -> "PeakModel":
        n_bins = int(np.ceil(max(float(fp.peaks.f.max()) for fp in fingerprints if len(fp.peaks)))) + 1
        gaps, trans = [], np.zeros((n_bins, n_bins), dtype=np.float64)
        for fp in fingerprints:
            b = np.clip(np.rint(fp.peaks.f).astype(np.int64), 0, n_bins - 1)
            gaps.append(np.diff(fp.peaks.t).astype(np.float32))
            np.add.at(trans, (b[:-1], b[1:]), 1.0)
        marginal = trans.sum(axis=0) + trans.sum(axis=1)
        marginal /= marginal.sum()
        # a bin never seen as a "from" row falls back to the overall distribution
        trans += 1e-3 * marginal[None, :]
        u = (np.arange(LEVELS) + 0.5) / LEVELS
        first = np.searchsorted(np.cumsum(marginal), u).clip(0, n_bins - 1).astype(np.int16)
        rows = np.cumsum(trans / trans.sum(axis=1, keepdims=True), axis=1)
        nxt = np.stack([np.searchsorted(r, u).clip(0, n_bins - 1) for r in rows]).astype(np.int16)
        seconds = sum(fp.duration_s for fp in fingerprints)
        peaks = sum(len(fp.peaks) for fp in fingerprints)
        return cls(gaps=np.concatenate(gaps), first_bin=first, next_bin=nxt, peaks_per_s=peaks / seconds,
                   hashes_per_peak=sum(len(fp.keys) for fp in fingerprints) / peaks, hours=seconds / 3600,
                   works=len(fingerprints))

    def describe(self, synthetic_hashes_per_peak: float | None = None) -> str:
        text = (f"distractor model measured on {self.works} real catalog tracks ({self.hours:.1f} h): "
                f"{self.peaks_per_s:.2f} peaks/s; peak gaps bootstrapped from {len(self.gaps):,} measured gaps "
                f"(median {np.median(self.gaps):.2f} frames); peak bins a first-order Markov chain over "
                f"{self.next_bin.shape[0]} log-frequency bins with the measured bin-to-bin transitions; "
                f"real tracks give {self.hashes_per_peak:.2f} hashes per peak")
        if synthetic_hashes_per_peak is not None:
            text += f", the distractors {synthetic_hashes_per_peak:.2f}"
        return text

    def works_from(self, first: int, count: int, cfg: FingerprintConfig, *, seed: int, min_s: float, max_s: float,
                   batch: int = 256) -> Iterator[WorkFingerprint]:
        """Distractors number ``first`` .. ``first + count - 1`` (ids ``syn0000000`` ...), drawn in batches:
        the same ``seed``, ``first`` and ``count`` give the same works."""
        fps = cfg.frames_per_second
        for start in range(first, first + count, batch):
            n_works = min(batch, first + count - start)
            rng = np.random.default_rng([seed, start])
            durations = rng.uniform(min_s, max_s, n_works)
            steps = int(np.ceil(max_s * self.peaks_per_s * 1.3)) + 16
            t = np.cumsum(self.gaps[rng.integers(0, len(self.gaps), (n_works, steps))], axis=1, dtype=np.float64)
            u = rng.integers(0, LEVELS, (n_works, steps))
            bins = np.empty((n_works, steps), dtype=np.int16)
            bins[:, 0] = self.first_bin[u[:, 0]]
            for s in range(1, steps):
                bins[:, s] = self.next_bin[bins[:, s - 1], u[:, s]]
            f = bins + rng.uniform(-0.5, 0.5, (n_works, steps))
            for w in range(n_works):
                n = int(np.searchsorted(t[w], durations[w] * fps))
                peaks = Peaks(t=t[w, :n].astype(np.float32), f=np.clip(f[w, :n], 0, None).astype(np.float32),
                              m=np.zeros(n, np.float32))
                keys, tr = index_keys(peaks, cfg)
                yield WorkFingerprint(work_id=f"syn{start + w:07d}", peaks=peaks, keys=keys, anchors=tr.i,
                                      thirds=tr.k - tr.i, duration_s=float(durations[w]))
