"""Find which work, where, and under which transform, is inside a clip.

Chain: query peaks -> probed triplet keys -> index hits -> votes over (work,
offset) -> for the best cells, a fitted transform (time scale, pitch shift,
offset) -> verification: every clip peak is mapped through the transform onto
the work and counted if a work peak is there. The score is the evidence against
chance, ``-log10 P(hits >= h)`` for a Poisson count whose mean is what the work's
peak density would give at random positions, so one threshold means the same
thing for a 5 s clip and a 60 s one, and for a small catalog and a large one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.special import pdtrc

from matchers import __version__ as MATCHER_VERSION
from matchers.audio import load_audio
from matchers.config import DEFAULT_QUERY, QueryConfig
from matchers.errors import AudioError
from matchers.hashes import query_keys
from matchers.index import FingerprintIndex
from matchers.peaks import Peaks, find_peaks
from matchers.spectrum import log_spectrogram

OFFSET_BIN = 32           # frames per vote cell along the offset axis (about 0.5 s)
MIN_VOTES = 3
CANDIDATE_FRACTION = 0.25  # cells with fewer votes than this share of the best cell's are not verified
SCALE_STEPS = np.array([-0.02, -0.015, -0.01, -0.005, 0.0, 0.005, 0.01, 0.015, 0.02])
SHIFT_STEPS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
OFFSET_STEPS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
# decoy alignments: the same transform shifted along the work by these many seconds; what they hit is
# what two pieces of music share by style (beat grid, key, timbre) rather than by copying
_sweep = np.arange(-15.0, 15.01, 0.37)
DECOY_OFFSETS_S = _sweep[np.abs(_sweep) >= 1.5]
DECOY_QUANTILE = 0.9          # of the decoys' hit rates: the chance level (0.75 let a wide range pass style-alike music)
DECOY_MIN_OVERLAP = 0.25   # a decoy counts when at least this share of the clip maps inside the work
MIN_DECOYS = 8
DECOY_BELOW = 4.0          # decoys are run for candidates scoring at least the threshold less this
REFIT_FROM = 4.0           # candidates scoring this much are scored again from their fitted transform
REPEAT_SHARE = 0.6         # another place in the work explaining this share of a match's hits is a loop of it
MAX_REPEATS = 20
TEMPO_MARGIN = 1.04        # the search reaches this factor past the configured time-scale range...
PITCH_MARGIN_BINS = 1.0    # ...and this many log bins past the pitch range (the score's range penalty uses the range)
WINDOW_S = 30.0           # long clips are searched in windows of this length...
WINDOW_HOP_S = 20.0       # ...starting this often


@dataclass(frozen=True)
class Pair:
    """One matched stretch: clip ``clip_start_s``-``clip_end_s`` plays work ``work_start_s``-``work_end_s``.

    Both ends are the same two moments seen in each recording (mapped through the
    match's transform), so a letter can quote them side by side.
    """

    clip_start_s: float
    clip_end_s: float
    work_start_s: float
    work_end_s: float

    def text(self) -> str:
        t = [_seconds(x) for x in (self.clip_start_s, self.clip_end_s, self.work_start_s, self.work_end_s)]
        return f"clip {t[0]}\u2013{t[1]} s \u2194 work {t[2]}\u2013{t[3]} s"

    def to_dict(self) -> dict:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def _seconds(x: float) -> str:
    """Seconds to two decimals, never "-0.00"."""
    return f"{0.0 if abs(x) < 0.005 else x:.2f}"


def pair_from_transform(clip_start_s: float, clip_end_s: float, work_at_clip_start_s: float,
                        tempo_ratio: float) -> Pair:
    """The work positions of a clip stretch under a transform (work time = offset + tempo_ratio * clip time)."""
    return Pair(clip_start_s, clip_end_s, work_at_clip_start_s + tempo_ratio * clip_start_s,
                work_at_clip_start_s + tempo_ratio * clip_end_s)


@dataclass(frozen=True)
class Match:
    """One work found in a clip, with where: the matched stretch of the clip and the same stretch in the work.

    Times in seconds. ``tempo_ratio`` > 1: the clip plays faster than the work (work
    time = ``work_at_clip_start_s`` + ``tempo_ratio`` * clip time). ``repeats``: the
    work plays the matched music again at these positions too (a loop); each is the
    same clip stretch paired with another stretch of the work.
    """

    work_id: str
    score: float
    pair: Pair                # clip t1-t2 s <-> work u1-u2 s: the matched stretch in both
    pitch_semitones: float    # > 0: the clip is higher than the work
    tempo_ratio: float
    work_at_clip_start_s: float  # where the clip's first sample falls in the work (negative: before its start)
    matched_peaks: int
    clip_peaks: int
    votes: int
    repeats: tuple[Pair, ...] = ()

    # the names the stored Detection record uses, kept for its writers
    @property
    def clip_offset_s(self) -> float:
        """First matched moment in the clip (``pair.clip_start_s``)."""
        return self.pair.clip_start_s

    @property
    def ref_offset_s(self) -> float:
        """Where the clip's first sample falls in the work (``work_at_clip_start_s``), NOT the work
        position of ``clip_offset_s``: that is ``pair.work_start_s``."""
        return self.work_at_clip_start_s

    @property
    def duration_s(self) -> float:
        """Matched span in clip seconds."""
        return self.pair.clip_end_s - self.pair.clip_start_s

    @property
    def loops(self) -> bool:
        return bool(self.repeats)

    def describe(self) -> str:
        """One line a letter can quote: the pair, the transform, and any other positions of a loop."""
        line = f"{self.pair.text()}, pitch {self.pitch_semitones:+.1f} semitones, tempo \u00d7{self.tempo_ratio:.2f}"
        if self.repeats:
            line += "; the work repeats this music at " + ", ".join(
                f"{_seconds(r.work_start_s)}\u2013{_seconds(r.work_end_s)} s" for r in self.repeats)
        return line

    def to_dict(self) -> dict:
        return {"work_id": self.work_id, "score": round(self.score, 3), "pair": self.pair.to_dict(),
                "pitch_semitones": round(self.pitch_semitones, 3), "tempo_ratio": round(self.tempo_ratio, 4),
                "work_at_clip_start_s": round(self.work_at_clip_start_s, 3), "loops": self.loops,
                "repeats": [r.to_dict() for r in self.repeats], "matched_peaks": self.matched_peaks,
                "clip_peaks": self.clip_peaks, "votes": self.votes}


@dataclass(frozen=True)
class QueryResult:
    """The outcome for one clip: the best match (or None), other works found, time spent, or an error."""

    path: str
    match: Match | None
    others: tuple[Match, ...]
    query_s: float
    duration_s: float
    error: str | None = None
    top_score: float = 0.0    # the best score of any work, reported or not: how close chance came (margins)


# the search range the score's scale was first calibrated on (pitch +-4 semitones, time scale 1/1.35 .. 1.35)
REFERENCE_PITCH_SEMITONES = 4.0
REFERENCE_TEMPO_RATIO = 1.35


def range_penalty(qcfg: QueryConfig) -> float:
    """How much a wider search range lowers every score: log10 of how many more transforms it tries.

    Each distinct (pitch shift, time scale) searched is one more chance for unrelated music
    to line up; the raw score is -log10 of the chance probability of one alignment, so
    subtracting log10 of the number of alignments tried (relative to the reference range;
    a Bonferroni correction) keeps one threshold at one false-alarm rate whatever range is
    configured. A narrower range than the reference gets no bonus.
    """
    pitch = (2 * qcfg.max_pitch_semitones + 1) / (2 * REFERENCE_PITCH_SEMITONES + 1)
    tempo = np.log(qcfg.max_tempo_ratio) / np.log(REFERENCE_TEMPO_RATIO)
    return max(0.0, float(np.log10(pitch * tempo)))


def verdict_digest(cfg, qcfg: QueryConfig) -> str:
    """Short hash of everything that changes a verdict: fingerprint and query settings (the
    threshold too) and this module's constants. Part of :attr:`Matcher.version`, so a stored
    verdict is reused only when the same matcher would give it again."""
    constants = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in sorted(globals().items())
                 if k.isupper() and isinstance(v, (bool, int, float, str, tuple, np.ndarray))}
    blob = json.dumps([asdict(cfg), asdict(qcfg), constants], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Matcher:
    """Queries one fingerprint index."""

    def __init__(self, index: FingerprintIndex, qcfg: QueryConfig = DEFAULT_QUERY) -> None:
        self.index = index
        self.cfg = index.config
        self.qcfg = qcfg
        self.version = f"{MATCHER_VERSION}+{verdict_digest(self.cfg, qcfg)}"
        self.range_penalty = range_penalty(qcfg)
        # the background pass is a second search of the same clip: one more chance for chance (log10 2), on
        # top of the full range's penalty although it searches a much smaller range
        self.background_penalty = self.range_penalty + float(np.log10(2.0))
        self._work_order = index.work_order()

    # ---- public ------------------------------------------------------------------------------
    def identify_file(self, path: str | Path, *, max_duration_s: float = 4 * 3600.0) -> QueryResult:
        """Decode and search one file; a bad file gives a result with ``error`` set, never an exception."""
        start = time.perf_counter()
        try:
            y = load_audio(path, sr=self.cfg.sample_rate, max_duration_s=max_duration_s)
        except AudioError as exc:
            return QueryResult(str(path), None, (), time.perf_counter() - start, 0.0, error=exc.reason)
        found = self.identify(y)
        accepted = [m for m in found if m.score >= self.qcfg.threshold]
        return QueryResult(str(path), accepted[0] if accepted else None, tuple(accepted[1:]),
                           time.perf_counter() - start, len(y) / self.cfg.sample_rate,
                           top_score=found[0].score if found else 0.0)

    def reported(self, y: np.ndarray) -> list[Match]:
        """The works found in ``y`` at or above the threshold: what every caller reports."""
        return [m for m in self.identify(y) if m.score >= self.qcfg.threshold]

    def identify(self, y: np.ndarray) -> list[Match]:
        """Every work found in samples ``y`` (mono, ``cfg.sample_rate``), best score first, one per work.

        Includes matches below the threshold (callers filter with ``qcfg.threshold``).
        """
        sr = self.cfg.sample_rate
        if len(y) <= (WINDOW_S + WINDOW_HOP_S) * sr:
            return self._identify_window(y, 0.0)
        best: dict[str, Match] = {}
        for start in np.arange(0.0, len(y) / sr - WINDOW_HOP_S / 2, WINDOW_HOP_S):
            a = int(start * sr)
            for m in self._identify_window(y[a:a + int(WINDOW_S * sr)], float(start)):
                if m.work_id not in best or m.score > best[m.work_id].score:
                    best[m.work_id] = m
        return sorted(best.values(), key=lambda m: -m.score)

    # ---- one window --------------------------------------------------------------------------
    def _identify_window(self, y: np.ndarray, start_s: float) -> list[Match]:
        cfg, q = self.cfg, self.qcfg
        if len(self.index) == 0:
            return []
        S = log_spectrogram(y, cfg)
        peaks = find_peaks(S, cfg, density=q.peaks_per_second, neighbourhood=q.peak_neighbourhood(cfg))
        penalty = self.range_penalty
        found = self._search(peaks, start_s, neighbours=q.neighbours, max_tempo_ratio=q.max_tempo_ratio,
                             max_pitch_semitones=q.max_pitch_semitones, penalty=penalty)
        if q.background_pass and not any(m.score >= q.threshold for m in found.values()):
            # music under louder speech: peaks that hold their level, searched near the original pitch and tempo
            held_peaks = find_peaks(S, cfg, density=q.background_peaks_per_second,
                                    neighbourhood=(q.background_peak_frames, q.background_peak_bins),
                                    hold=(q.background_hold_frames, q.background_hold_db))
            again = self._search(held_peaks, start_s, neighbours=q.background_neighbours,
                                 max_tempo_ratio=q.background_max_tempo_ratio,
                                 max_pitch_semitones=q.background_max_pitch_semitones,
                                 penalty=self.background_penalty)
            if any(m.score >= q.threshold for m in again.values()):
                found, peaks, penalty = again, held_peaks, self.background_penalty
        if len(found) > 1:
            found = self._explain_away(found, peaks, start_s, penalty)
        reported = [self._with_repeats(m, peaks, start_s, penalty) if m.score >= q.threshold else m
                    for m in found.values()]
        return sorted(reported, key=lambda m: -m.score)

    def _search(self, peaks: Peaks, start_s: float, *, neighbours: int, max_tempo_ratio: float,
                max_pitch_semitones: float, penalty: float) -> dict[int, Match]:
        """One search of the index with one peak set over one transform range: the best match per work."""
        cfg, q = self.cfg, self.qcfg
        if len(peaks) < 6:
            return {}
        # search a little past the range's ends: a clip at exactly half speed has half its votes at 0.49x
        max_tempo_ratio = max_tempo_ratio * TEMPO_MARGIN
        max_pitch_bins = max_pitch_semitones * cfg.bins_per_semitone + PITCH_MARGIN_BINS
        keys, krow, tr = query_keys(peaks, cfg, neighbours=neighbours, max_tempo_ratio=max_tempo_ratio,
                                    max_pitch_bins=max_pitch_bins)
        probe, work, t_ref, f_ref, span_ref = self.index.lookup(keys, max_bucket=q.max_bucket)
        if len(probe) == 0:
            return {}
        # the clip side of each hit, from its triplet: read per triplet, then gathered once per hit
        row = krow[probe]
        anchor = tr.i[row]
        t_i = peaks.t[tr.i]
        t_q = t_i[row]
        f_q = peaks.f[tr.i][row]
        span_q = (peaks.t[tr.k] - t_i)[row]
        scale = span_ref / span_q
        shift = f_q - f_ref
        ok = (scale <= max_tempo_ratio) & (scale >= 1.0 / max_tempo_ratio)
        ok &= np.abs(shift) <= max_pitch_bins
        t_mid = float(peaks.t[-1]) / 2
        o_mid = t_ref - scale * (t_q - t_mid)
        # the votes read the kept hits' work, offset and anchor; a candidate's few hits are read by position
        kept = np.flatnonzero(ok)
        work, o_mid, anchor = work[kept], o_mid[kept], anchor[kept]

        cells = self._top_cells(work, o_mid, anchor)
        found: dict[int, Match] = {}
        of_work: dict[int, np.ndarray] = {}   # kept hits of each candidate work, in hit order
        for w, centre, votes in cells:
            if w not in of_work:
                of_work[w] = np.flatnonzero(work == w)
            sel = of_work[w][np.abs(o_mid[of_work[w]] - centre) <= OFFSET_BIN]
            if len(sel) < MIN_VOTES:
                continue
            sel = kept[sel]
            sel = _densest_transform(np.log(scale[sel]), shift[sel], sel)
            s = float(np.exp(_median(np.log(scale[sel]))))
            sh = float(_median(shift[sel]))
            o0 = float(_median(t_ref[sel] - s * t_q[sel]))
            m = self._verify(int(w), peaks, o0, s, sh, votes, start_s, penalty)
            # one work, several places (a looped section): the place that explains more of the clip wins
            if m is not None and (w not in found or (m.matched_peaks, m.score) > (found[w].matched_peaks, found[w].score)):
                found[w] = m
        fps = cfg.frames_per_second
        for w, m in list(found.items()):
            if m.score >= REFIT_FROM:
                # score again from the least-squares transform: the vote's estimate is coarse, and an
                # alignment off by a fraction of a frame or bin loses hits a copy would have given
                o_fit = (m.work_at_clip_start_s + m.tempo_ratio * start_s) * fps
                again = self._verify(int(w), peaks, o_fit, m.tempo_ratio, m.pitch_semitones * cfg.bins_per_semitone,
                                     m.votes, start_s, penalty)
                if again is not None and again.score > m.score:
                    found[w] = again
        return found

    def _explain_away(self, found: dict[int, Match], peaks: Peaks, start_s: float, penalty: float) -> dict[int, Match]:
        """Judge each further work only on the clip peaks that better matches leave unexplained.

        A clip that is plainly work A must not also be called work B because some of A's peaks
        happen to fit B under another transform; a medley of A and B keeps both.
        """
        order = sorted(found, key=lambda w: -found[w].score)
        kept = {order[0]: found[order[0]]}
        explained = self.explained(peaks, found[order[0]], start_s)
        for w in order[1:]:
            m = found[w]
            rest = ~explained
            if rest.sum() < 6:
                continue
            sub = Peaks(peaks.t[rest], peaks.f[rest], peaks.m[rest])
            o = (m.work_at_clip_start_s + m.tempo_ratio * start_s) * self.cfg.frames_per_second
            again = self._verify(int(w), sub, o, m.tempo_ratio, m.pitch_semitones * self.cfg.bins_per_semitone,
                                 m.votes, start_s, penalty)
            if again is not None:
                kept[w] = again
                explained |= self.explained(peaks, again, start_s)
        return kept

    def _with_repeats(self, m: Match, peaks: Peaks, start_s: float, penalty: float) -> Match:
        """``m`` with every other place its work plays the matched music (a loop), as pairs.

        The clip peaks of the matched stretch slide along the whole work under the match's
        transform; a place counts as a repeat when it explains at least REPEAT_SHARE of the
        hits the match itself has and would pass the threshold on its own.
        """
        cfg = self.cfg
        fps = cfg.frames_per_second
        rt, rf = self.index.peaks_of(m.work_id)
        lo, hi = (m.pair.clip_start_s - start_s) * fps, (m.pair.clip_end_s - start_s) * fps
        inside = (peaks.t >= lo) & (peaks.t <= hi)
        qt = peaks.t[inside].astype(np.float64)
        qf = np.rint(peaks.f[inside] - m.pitch_semitones * cfg.bins_per_semitone).astype(np.int64)
        if len(qt) < MIN_VOTES or len(rt) < MIN_VOTES:
            return m
        rel = np.rint(m.tempo_ratio * (qt - lo)).astype(np.int64)     # work frames after the stretch's start
        # per clip peak, every start frame at which it would land on a work peak (within a frame and a
        # bin): read from the work's peaks sorted by frequency, so memory stays small for long works
        width = int(np.ceil(rt[-1])) + 2
        counts, landings = _start_frame_votes(rt, rf, rel, qf, width)
        lam = 0.0
        for n in landings.tolist():   # in clip-peak order, as the chance level was always summed
            lam += n / width
        here = int(round((m.work_at_clip_start_s + m.tempo_ratio * start_s) * fps + m.tempo_ratio * lo))
        own = int(counts[max(0, min(here - 2, width - 1)):max(1, min(here + 3, width))].max())
        need = max(MIN_VOTES, int(np.ceil(REPEAT_SHARE * own)))
        while need <= own and _score(need, lam) - penalty < self.qcfg.threshold:
            need += 1
        taken = [here]
        repeats = []
        for x in np.argsort(-counts, kind="stable"):
            if counts[x] < need or len(repeats) >= MAX_REPEATS:
                break
            if any(abs(int(x) - t) < fps for t in taken):
                continue
            taken.append(int(x))
            start = float(x) / fps
            repeats.append(Pair(m.pair.clip_start_s, m.pair.clip_end_s, start,
                                start + m.tempo_ratio * (m.pair.clip_end_s - m.pair.clip_start_s)))
        if not repeats:
            return m
        return replace(m, repeats=tuple(sorted(repeats, key=lambda p: p.work_start_s)))

    def explained(self, peaks: Peaks, m: Match, start_s: float = 0.0) -> np.ndarray:
        """Which clip peaks land on a peak of ``m``'s work under ``m``'s transform (within a frame and a bin)."""
        cfg = self.cfg
        rt, rf = self.index.peaks_of(m.work_id)
        o = (m.work_at_clip_start_s + m.tempo_ratio * start_s) * cfg.frames_per_second
        pt = o + m.tempo_ratio * peaks.t
        pf = peaks.f - m.pitch_semitones * cfg.bins_per_semitone
        j = _neighbours(rt, pt)
        return ((np.abs(rt[j] - pt) <= 1.5) & (np.abs(rf[j] - pf) <= 1.5)).any(axis=0)

    def _top_cells(self, work: np.ndarray, o_mid: np.ndarray, anchor: np.ndarray) -> list[tuple[int, float, int]]:
        """The (work, offset) cells with the most distinct clip anchors voting for them."""
        n_cells = []
        anchor = anchor & 0x3FF
        for phase in (0.0, OFFSET_BIN / 2):
            cell = np.floor((o_mid + phase) / OFFSET_BIN).astype(np.int64)
            votes = CellVotes.count(work, cell, anchor)
            top = _most_voted(votes.counts, self.qcfg.candidates)
            cell_work, cell_pos = votes.decode(top)
            for w, c, n in zip(cell_work.tolist(), cell_pos.tolist(), votes.counts[top].tolist()):
                if n < MIN_VOTES:
                    continue
                n_cells.append((w, (c + 0.5) * OFFSET_BIN - phase, n))
        n_cells.sort(key=lambda x: -x[2])
        seen, out = set(), []
        floor = max(MIN_VOTES, CANDIDATE_FRACTION * n_cells[0][2]) if n_cells else MIN_VOTES
        for w, centre, n in n_cells:
            if n < floor:
                break
            key = (w, round(centre / OFFSET_BIN))
            if key in seen:
                continue
            seen.add(key)
            out.append((w, centre, n))
        return out[: self.qcfg.candidates]

    def _decoy_level(self, grid, base, rt, peaks, best_t, best_f, o_best, s_best) -> float:
        """Hits expected by style alone: a high quantile of the hit rate of shifted copies of the alignment."""
        fps = self.cfg.frames_per_second
        decoy_o = o_best + DECOY_OFFSETS_S * fps
        decoy_t = np.rint(decoy_o[:, None] + s_best * peaks.t[None, :] - base).astype(np.int64)
        decoy_f = np.broadcast_to(best_f, decoy_t.shape)
        in_work = (decoy_t >= rt[0] - base) & (decoy_t <= rt[-1] - base)
        n_in = in_work.sum(axis=1)
        usable = n_in >= DECOY_MIN_OVERLAP * len(peaks)
        if usable.sum() < MIN_DECOYS:
            return 0.0
        decoy_counts, _ = _hits(grid, np.where(in_work, decoy_t, -1)[usable], decoy_f[usable])
        rate = float(np.quantile(decoy_counts / n_in[usable], DECOY_QUANTILE))
        return rate * int(((best_t >= rt[0] - base) & (best_t <= rt[-1] - base)).sum())

    def _verify(self, w: int, peaks: Peaks, o0: float, s: float, sh: float, votes: int, start_s: float,
                penalty: float) -> Match | None:
        """Map the clip's peaks onto the work under the fitted transform (refined on a small grid) and score,
        less ``penalty`` (log10 of how many more transforms the search tried than the reference range)."""
        cfg = self.cfg
        work_id = self._work_order[w]
        rt, rf = self.index.peaks_of(work_id)
        span = float(peaks.t[-1]) * s
        lo, hi = o0 - 8, o0 + span * 1.03 + 8
        fps = cfg.frames_per_second
        reach = DECOY_OFFSETS_S.max() * fps
        a, b = np.searchsorted(rt, [lo - reach, hi + reach])
        if b - a < 3:
            return None
        n_bins = int(np.ceil(max(rf.max(), peaks.f.max()) + 3 + abs(sh)))
        base = int(np.floor(lo - reach)) - 2
        width = int(np.ceil(hi + reach)) - base + 4
        gt, gf = np.rint(rt[a:b] - base).astype(np.int64), np.rint(rf[a:b]).astype(np.int64)
        shape = (width, n_bins + 2)
        # every transform on the refinement grid at once: hits of shape (offsets, scales, shifts, clip peaks),
        # from work frames of shape (offsets, scales, clip peaks) and bins of shape (shifts, clip peaks)
        ss = s * (1.0 + SCALE_STEPS)[None, :, None]
        mt = np.rint((o0 + OFFSET_STEPS)[:, None, None] + ss * peaks.t[None, None, :] - base).astype(np.int64)
        mf = np.rint(peaks.f[None, :] - (sh + SHIFT_STEPS)[:, None]).astype(np.int64)
        grid = None     # the whole window's grid, built only where needed (decoys, odd geometry)
        if _on_inner_grid(gt, gf, shape) and mt.min() >= 0 and mt.max() < width:
            hit = _refinement_hits(gt, gf, shape[1], mt, mf)
        else:
            grid = _peak_grid(gt, gf, shape)
            full = mt.shape[:2] + mf.shape
            hit = _hits(grid, np.broadcast_to(mt[:, :, None, :], full), np.broadcast_to(mf[None, None], full))[1]
        counts = hit.sum(axis=-1)
        best = np.unravel_index(int(np.argmax(counts - _CENTRE_PENALTY)), counts.shape)
        h = int(counts[best])
        if h < MIN_VOTES:
            return None
        s_best = float(s * (1 + SCALE_STEPS[best[1]]))
        sh_best = float(sh + SHIFT_STEPS[best[2]])
        o_best = float(o0 + OFFSET_STEPS[best[0]])
        best_t, best_f = mt[best[0], best[1]], mf[best[2]]
        # chance level, the larger of two estimates: (a) per frequency row, the share of the window where
        # a peak would count as a hit; (b) the median hit count of decoy alignments of the same two pieces
        # of music a few seconds away, which also captures what they share by style (beat grid, key, timbre)
        row_occ = grid.mean(axis=0) if grid is not None else _grid_occupancy(gt, gf, shape)
        rows = np.clip(best_f, 0, len(row_occ) - 1)
        lam = float(row_occ[rows].sum())
        # the decoys can only raise the chance level: spare them where the score falls far short (within
        # DECOY_BELOW of the threshold they run, so a near miss's score, the margin a benchmark quotes, is corrected too)
        raw = _score(h, lam)
        if raw - penalty >= self.qcfg.threshold - DECOY_BELOW:
            grid = _peak_grid(gt, gf, shape) if grid is None else grid
            decoy_lam = self._decoy_level(grid, base, rt, peaks, best_t, best_f, o_best, s_best)
            if decoy_lam > lam:
                lam, raw = decoy_lam, _score(h, decoy_lam)
        score = max(0.0, raw - penalty)
        hit = hit[best]
        s_best, sh_best, o_best = _fit_pairs(peaks, hit, rt, rf, s_best, sh_best, o_best)
        first, last = _matched_span(peaks.t, hit, lam / len(peaks), fps)
        work_at_start = (o_best - s_best * start_s * fps) / fps
        pair = pair_from_transform(start_s + first / fps, start_s + last / fps, work_at_start, s_best)
        return Match(work_id=work_id, score=round(score, 3), pair=pair,
                     pitch_semitones=sh_best / cfg.bins_per_semitone, tempo_ratio=s_best,
                     work_at_clip_start_s=work_at_start, matched_peaks=h, clip_peaks=len(peaks), votes=votes)


# refinement steps' distance from the grid centre: among equal hit counts the central transform wins
_CENTRE_PENALTY = 1e-3 * (np.abs(OFFSET_STEPS)[:, None, None] / OFFSET_STEPS.max()
                          + np.abs(SCALE_STEPS)[None, :, None] / SCALE_STEPS.max()
                          + np.abs(SHIFT_STEPS)[None, None, :] / SHIFT_STEPS.max())
LOG_SCALE_BIN = 0.01       # votes agree on the time scale within about 1 %...
SHIFT_BIN = 1.0            # ...and on the pitch shift within a log bin


@dataclass(frozen=True)
class CellVotes:
    """Votes per (work, offset cell): ``counts`` in (work, cell) order, each cell packed in ``packed``
    (work * ``n_pos`` + cell - ``lo``); :meth:`decode` unpacks only the cells asked for."""

    packed: np.ndarray
    counts: np.ndarray
    n_pos: int
    lo: int

    @classmethod
    def count(cls, work: np.ndarray, cell: np.ndarray, anchor: np.ndarray) -> CellVotes:
        """A clip anchor votes once per cell however many of its triplets land there. One sort of a
        compact integer (work, cell rank, anchor) and run lengths: ``np.unique`` hashes, about 30 times
        slower on the quarter million hits of a clip. ``anchor`` must be below 2**10."""
        if len(work) == 0:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 1, 0)
        lo = int(cell.min())
        n_pos = int(cell.max()) - lo + 1
        n_work = int(work.max()) + 1
        # int32 sorts about twice as fast as int64, when the key fits
        dtype = np.int32 if n_work * n_pos << 10 < 2**31 else np.int64
        combo = ((work.astype(dtype) * dtype(n_pos) + (cell - lo).astype(dtype)) << 10) | anchor.astype(dtype)
        combo.sort()
        distinct = combo[_run_starts(combo)] >> 10     # one vote per anchor per cell
        starts = np.flatnonzero(_run_starts(distinct))
        counts = np.diff(starts, append=len(distinct)).astype(np.int64, copy=False)
        return cls(distinct[starts], counts, n_pos, lo)

    def decode(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(work, cell) of the cells at positions ``which``, int64."""
        cell_work, cell_pos = np.divmod(self.packed[which].astype(np.int64), self.n_pos)
        return cell_work, cell_pos + self.lo


def _most_voted(counts: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``counts``, largest first, equal counts in position order (that
    is, (work, cell) order): ``np.argsort(-counts, kind="stable")[:k]``. A plain argsort's order of
    equal counts is its algorithm's, which differs between CPUs (numpy's AVX-512 sort), and so would
    the candidates taken; only the counts at or above the k-th largest are sorted."""
    if len(counts) <= k:
        return np.argsort(-counts, kind="stable")
    kth = np.partition(counts, len(counts) - k)[len(counts) - k]
    at = np.flatnonzero(counts >= kth)
    return at[np.argsort(-counts[at], kind="stable")][:k]


def _run_starts(x: np.ndarray) -> np.ndarray:
    """True where sorted ``x`` differs from the element before (and at the first)."""
    start = np.empty(len(x), dtype=bool)
    start[:1] = True
    np.not_equal(x[1:], x[:-1], out=start[1:])
    return start


def _densest_transform(log_s: np.ndarray, shift: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The votes around the most common (time scale, pitch shift): chance votes spread, a copy's agree."""
    if len(idx) > 400:  # plenty of agreement; a sample finds the mode as well
        keep = np.linspace(0, len(idx) - 1, 400).astype(int)
        log_s, shift, idx = log_s[keep], shift[keep], idx[keep]
    close = (np.abs(log_s[:, None] - log_s[None, :]) <= LOG_SCALE_BIN) & (np.abs(shift[:, None] - shift[None, :]) <= SHIFT_BIN)
    centre = int(np.argmax(close.sum(axis=1)))
    return idx[close[centre]]


def _matched_span(t: np.ndarray, hit: np.ndarray, chance_rate: float, fps: float) -> tuple[float, float]:
    """First and last frame of the longest run of seconds where hits clearly exceed chance (1 s gaps allowed)."""
    sec = np.maximum(t // fps, 0).astype(np.int64)
    n = int(sec.max()) + 1
    peaks_per_s = np.bincount(sec, minlength=n)
    hits_per_s = np.bincount(sec[hit], minlength=n)
    good = np.nonzero((hits_per_s >= 2) & (hits_per_s >= 3 * chance_rate * peaks_per_s))[0]
    if len(good) == 0:
        matched = t[hit]
        return float(matched.min()), float(matched.max())
    breaks = np.nonzero(np.diff(good) > 2)[0]
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(good) - 1]])
    longest = int(np.argmax(good[ends] - good[starts]))
    lo, hi = good[starts[longest]], good[ends[longest]]
    inside = hit & (sec >= lo) & (sec <= hi)
    return float(t[inside].min()), float(t[inside].max())


def _median(x: np.ndarray) -> np.floating:
    """``np.median(x)`` for a non-empty 1-d array without NaNs, the same value and dtype, without its
    generic machinery (a dozen calls per candidate)."""
    x = np.sort(x)
    m = len(x) // 2
    return x[m] if len(x) % 2 else (x[m - 1] + x[m]) / 2


def _start_frame_votes(rt: np.ndarray, rf: np.ndarray, rel: np.ndarray, qf: np.ndarray, width: int,
                       chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """For every start frame 0..``width``-1 of a stretch in the work, how many clip peaks would land on a
    work peak (within a frame and a bin), and per clip peak how many start frames it lands at.

    Clip peak i sits ``rel[i]`` work frames after the stretch's start at bin ``qf[i]``. The work's
    peaks (``rt``, ``rf``) are read by frequency, and clip peaks are taken a chunk of candidate
    landings at a time, so memory stays bounded for an hour-long work.
    """
    by_f = np.argsort(rf, kind="stable")
    rf_sorted = rf[by_f]
    frame = np.rint(rt[by_f]).astype(np.int64)
    first = np.searchsorted(rf_sorted, qf - 1.5)
    n_near = np.searchsorted(rf_sorted, qf + 1.5) - first
    counts = np.zeros(width, dtype=np.int64)
    landings = np.zeros(len(qf), dtype=np.int64)
    ends = np.cumsum(n_near)
    i = 0
    while i < len(qf):
        j = max(i + 1, int(np.searchsorted(ends, (ends[i - 1] if i else 0) + chunk, side="right")))
        sizes = n_near[i:j]
        peak = np.repeat(np.arange(i, j), sizes)
        within = np.arange(len(peak)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        x = frame[first[peak] + within] - rel[peak]
        x = np.concatenate([x - 1, x, x + 1])
        peak = np.concatenate([peak, peak, peak])
        inside = (x >= 0) & (x < width)
        key = np.sort(peak[inside] * width + x[inside])
        key = key[np.diff(key, prepend=-1) != 0]    # each start frame once per clip peak
        counts += np.bincount(key % width, minlength=width)
        landings += np.bincount(key // width, minlength=len(qf))
        i = j
    return counts, landings


def _neighbours(rt: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Indices into sorted ``rt`` of the 8 entries around where each of ``pt`` falls (4 each side,
    clipped to the ends), shape (8, len(pt)), in scan order: a nearest-peak search takes the first of
    equals along axis 0."""
    pos = np.searchsorted(rt, pt)
    return np.clip(pos[None, :] + np.arange(-4, 4)[:, None], 0, len(rt) - 1)


def _fit_pairs(peaks: Peaks, hit: np.ndarray, rt: np.ndarray, rf: np.ndarray,
               s: float, sh: float, o: float) -> tuple[float, float, float]:
    """Least-squares transform from each hit clip peak and its nearest work peak (sub-bin, sub-frame)."""
    qt, qf = peaks.t[hit].astype(np.float64), peaks.f[hit].astype(np.float64)
    if len(qt) < 4:
        return s, sh, o
    pt, pf = o + s * qt, qf - sh
    j = _neighbours(rt, pt)
    dist = (rt[j] - pt) ** 2 + (rf[j] - pf) ** 2
    nearest = np.argmin(dist, axis=0)     # the first of equals, as a scan in neighbour order keeps
    column = np.arange(len(qt))
    best_d, best_j = dist[nearest, column], j[nearest, column]
    ok = best_d <= 2.5
    if ok.sum() < 4:
        return s, sh, o
    rt_m, rf_m, qt_m, qf_m = rt[best_j[ok]], rf[best_j[ok]], qt[ok], qf[ok]
    shift = float(_median(qf_m - rf_m))
    if np.ptp(qt_m) < 10:  # too short a span to fit a slope
        return s, shift, float(_median(rt_m - s * qt_m))
    slope, intercept = np.polyfit(qt_m, rt_m, 1)
    return float(slope), shift, float(intercept)


MAX_SCORE = 1000.0   # past this the probability underflows; no decision depends on more


def _score(hits: int, expected: float) -> float:
    """Evidence against chance: -log10 P(X >= hits) for X ~ Poisson(expected), capped at MAX_SCORE."""
    # what scipy.stats.poisson.logsf(hits - 1, mu) computes, without its per-call argument handling:
    # log of the regularized upper tail pdtrc, 0 below the support
    if hits < 1:
        log_sf = 0.0
    else:
        with np.errstate(divide="ignore"):
            log_sf = np.log(pdtrc(float(hits - 1), max(expected, 1e-3)))
    value = float(-log_sf / np.log(10))
    return min(value, MAX_SCORE) if np.isfinite(value) else MAX_SCORE


def _peak_grid(gt: np.ndarray, gf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Cells (frame, bin) within a frame and a bin of a work peak at (``gt``, ``gf``): a boolean grid of
    ``shape`` (frames, bins); points off the grid are clipped to its edge.

    For points on the grid a clipped neighbour is the point's own edge cell, so scattering the
    bin neighbours and ORing whole shifted frames is the same grid as nine clipped scatters.
    """
    width, n_cols = shape
    grid = np.zeros(shape, dtype=bool)
    if len(gt) and (gt.min() < 0 or gt.max() >= width or gf.min() < 0 or gf.max() >= n_cols):
        for dt in (-1, 0, 1):
            for df in (-1, 0, 1):
                grid[np.clip(gt + dt, 0, width - 1), np.clip(gf + df, 0, n_cols - 1)] = True
        return grid
    grid[gt, gf] = True
    left, right = gf >= 1, gf < n_cols - 1
    grid[gt[left], gf[left] - 1] = True
    grid[gt[right], gf[right] + 1] = True
    bins = grid.copy()
    grid[1:] |= bins[:-1]
    grid[:-1] |= bins[1:]
    return grid


def _on_inner_grid(gt: np.ndarray, gf: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether every point is on the grid, off its first and last frame (what the point-wise forms of
    :func:`_peak_grid`'s occupancy and hits below assume)."""
    width, n_cols = shape
    return bool(gt.min() >= 1 and gt.max() <= width - 2 and gf.min() >= 0 and gf.max() < n_cols)


def _grid_occupancy(gt: np.ndarray, gf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per bin, the share of frames of ``_peak_grid(gt, gf, shape)`` that are set (exactly its
    ``mean(axis=0)``), from the points alone: a bin's set frames are the union of the +-1 frame
    intervals of the peaks within a bin of it. Points must be :func:`_on_inner_grid`."""
    width, n_cols = shape
    col = np.concatenate([gf - 1, gf, gf + 1])
    keep = (col >= 0) & (col < n_cols)
    key = np.sort(col[keep] * width + np.concatenate([gt, gt, gt])[keep])
    key = key[_run_starts(key)]
    # each frame adds the part of its interval the previous one (same bin, sorted) left uncovered;
    # across bins the key jumps by at least 3, a whole interval
    new = np.minimum(np.diff(key, prepend=key[0] - 3), 3)
    return np.bincount(key // width, weights=new, minlength=n_cols) / width


def _refinement_hits(gt: np.ndarray, gf: np.ndarray, n_cols: int, mt: np.ndarray, mf: np.ndarray) -> np.ndarray:
    """Which clip peaks land on ``_peak_grid(gt, gf, ...)`` for every (offset, scale, shift): shape
    (offsets, scales, shifts, peaks), ``mt`` (offsets, scales, peaks) being grid frames (all on the
    grid) and ``mf`` (shifts, peaks) grid bins.

    Only the frames the refinement reaches are built (bin-major, so dilating along time is a
    shift of the flat array: two spare frames each side keep it from wrapping into the next
    bin), then one gather; never a full-size copy of both coordinates.
    """
    r0, r1 = int(mt.min()), int(mt.max())
    span = r1 - r0 + 5
    near = (gt >= r0 - 1) & (gt <= r1 + 1)
    by_bin = np.zeros((n_cols, span), dtype=bool)
    by_bin[gf[near], gt[near] - r0 + 2] = True
    flat = by_bin.reshape(-1)
    points = flat.copy()
    flat[1:] |= points[:-1]
    flat[:-1] |= points[1:]
    frames = by_bin.copy()
    by_bin[1:] |= frames[:-1]
    by_bin[:-1] |= frames[1:]
    on_grid = (mf >= 0) & (mf < n_cols)
    at = (mt - (r0 - 2))[:, :, None, :] + (np.where(on_grid, mf, 0) * span)[None, None]
    return flat[at] & on_grid[None, None]


def _hits(grid: np.ndarray, mt: np.ndarray, mf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which mapped points land on the dilated peak grid; counts over the last axis."""
    inside = (mt >= 0) & (mt < grid.shape[0]) & (mf >= 0) & (mf < grid.shape[1])
    hit = np.zeros(mt.shape, dtype=bool)
    hit[inside] = grid[mt[inside], mf[inside]]
    return hit.sum(axis=-1), hit
