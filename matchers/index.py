"""The inverted index: plain numpy arrays on disk, memory-mapped, in immutable segments.

Layout of an index folder::

    index.json            manifest: format version, fingerprint settings + digest, segment list
    seg-000001/           one segment (written once, then only read or replaced)
        keys.npy          uint32 [n_hashes]      triplet keys, sorted
        values.npy        uint32 [n_hashes]      anchor peak index << 4 | (k - i)
        peak_t.npy        uint32 [n_peaks]       peak time, 1/16 frame units, per work in time order
        peak_f.npy        uint16 [n_peaks]       peak frequency, 1/64 log-bin units
        works.json        [{id, peak_start, peak_end, n_hashes, duration_s, sha256}]

A change (add, remove, merge) writes new segment folders, then swaps the
manifest with an atomic rename: a crash at any point leaves the previous index
intact, and folders no manifest names are swept on the next write. Lookups go
through a bucket directory (a prefix sum of key counts, built in memory at load
for large segments) so a probe costs two array reads, whatever the index size.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from matchers.config import DEFAULT, FingerprintConfig
from matchers.errors import IndexFormatError
from matchers.hashes import MAX_NEIGHBOURS, THIRD_BITS, key_bits, pack_value, unpack_value
from matchers.peaks import Peaks

FORMAT_VERSION = 1
MANIFEST = "index.json"
T_SCALE = 16.0      # peak_t units per frame
F_SCALE = 64.0      # peak_f units per bin
MAX_SEGMENTS = 6
# a segment this large gets a bucket directory (64 MiB of int32 over a key's top 24 bits): a triplet
# key's probe then costs two array reads, a wider key's a short binary search within its directory
# bucket; smaller segments are binary-searched whole, which costs little at their size and no memory
DIRECTORY_MIN_HASHES = 1 << 20
DIRECTORY_BITS = 24
DIRECTORY_CHUNK = 1 << 25     # keys counted at a time when building it (256 MiB of int64)
WORK_BLOCK_BITS = 8           # a lookup finds a hit's work from the work of its anchor's block of 256 peaks


@dataclass(frozen=True)
class WorkFingerprint:
    """Everything the index keeps of one work."""

    work_id: str
    peaks: Peaks
    keys: np.ndarray          # uint32 [n_hashes]
    anchors: np.ndarray       # int64 [n_hashes], index into peaks
    thirds: np.ndarray        # int64 [n_hashes], k - i
    duration_s: float
    sha256: str = ""


@dataclass
class _Segment:
    name: str
    path: Path
    keys: np.ndarray
    values: np.ndarray
    peak_t: np.ndarray
    peak_f: np.ndarray
    works: list[dict]
    key_bits: int = 24
    starts: np.ndarray | None = field(repr=False, default=None)  # bucket directory [2**DIRECTORY_BITS + 1], large segments
    work_starts: np.ndarray = field(repr=False, default=None)
    block_work: np.ndarray = field(repr=False, default=None)    # work holding each block's first peak
    next_start: np.ndarray = field(repr=False, default=None)    # each work's next work's first peak

    @classmethod
    def load(cls, path: Path, bits: int) -> "_Segment":
        """Map the segment at ``path``, whose keys are ``bits`` wide."""
        try:
            # np.asarray drops the memmap subclass (its per-index overhead) but keeps the mapping
            seg = cls(name=path.name, path=path,
                      keys=np.asarray(np.load(path / "keys.npy", mmap_mode="r")),
                      values=np.asarray(np.load(path / "values.npy", mmap_mode="r")),
                      peak_t=np.asarray(np.load(path / "peak_t.npy", mmap_mode="r")),
                      peak_f=np.asarray(np.load(path / "peak_f.npy", mmap_mode="r")),
                      works=json.loads((path / "works.json").read_text()), key_bits=bits)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"segment {path} is damaged or incomplete: {exc}") from exc
        if len(seg.keys) != len(seg.values) or len(seg.peak_t) != len(seg.peak_f):
            raise IndexFormatError(f"segment {path}: array lengths disagree")
        if len(seg.keys) >= DIRECTORY_MIN_HASHES:
            counts = np.zeros(1 << DIRECTORY_BITS, dtype=np.int64)
            for a in range(0, len(seg.keys), DIRECTORY_CHUNK):  # in chunks: bincount copies its input to int64
                counts += np.bincount(seg.keys[a:a + DIRECTORY_CHUNK] >> seg.directory_shift,
                                      minlength=1 << DIRECTORY_BITS)
            seg.starts = np.zeros((1 << DIRECTORY_BITS) + 1, dtype=np.int64 if len(seg.keys) >= 2**31 else np.int32)
            np.cumsum(counts, out=seg.starts[1:])
        seg.work_starts = np.array([w["peak_start"] for w in seg.works], dtype=np.int64)
        seg.block_work = np.searchsorted(seg.work_starts, np.arange(0, len(seg.peak_t), 1 << WORK_BLOCK_BITS),
                                         side="right") - 1
        seg.next_start = np.append(seg.work_starts[1:], np.iinfo(np.int64).max)
        return seg

    @property
    def n_hashes(self) -> int:
        return len(self.keys)

    @property
    def directory_shift(self) -> int:
        return max(0, self.key_bits - DIRECTORY_BITS)

    def buckets(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of each key's entries."""
        if self.starts is None:
            return np.searchsorted(self.keys, keys, side="left"), np.searchsorted(self.keys, keys, side="right")
        d = keys >> self.directory_shift if self.directory_shift else keys
        lo, hi = self.starts[d].astype(np.int64), self.starts[1:][d].astype(np.int64)
        if self.directory_shift == 0:
            return lo, hi
        return _bound(self.keys, lo, hi, keys, right=False), _bound(self.keys, lo, hi, keys, right=True)

    def hits(self, lo: np.ndarray, counts: np.ndarray, work_base: int) -> tuple[np.ndarray, ...]:
        """The entries of probe ``p``, ``counts[p]`` of them from position ``lo[p]``, in probe order:
        :meth:`FingerprintIndex.lookup`'s five arrays for this segment."""
        total = int(counts.sum())
        probe = np.repeat(np.arange(len(counts)), counts)
        first = np.cumsum(counts) - counts                   # each probe's first hit among the hits
        pos = (lo - first)[probe]
        pos += np.arange(total)
        value = self.values[pos]
        anchor = (value >> THIRD_BITS).astype(np.int64)
        last = anchor + (value & MAX_NEIGHBOURS)
        t_a = self.peak_t[anchor].astype(np.float32)
        t_a /= T_SCALE
        t_k = self.peak_t[last].astype(np.float32)
        t_k /= T_SCALE
        t_k -= t_a
        f_a = self.peak_f[anchor].astype(np.float32)
        f_a /= F_SCALE
        work = self.work_of(anchor)
        if work_base:
            work += work_base
        return probe, work, t_a, f_a, t_k

    def work_of(self, peak: np.ndarray) -> np.ndarray:
        """Which work (its position in this segment) holds each peak: ``np.searchsorted(work_starts,
        peak, side="right") - 1``, from the work of the peak's block and a step past each work
        that ends inside the block; several times faster on a lookup's hundred thousand hits."""
        work = self.block_work[peak >> WORK_BLOCK_BITS]
        later = np.flatnonzero(peak >= self.next_start[work])
        while len(later):
            work[later] += 1
            later = later[peak[later] >= self.next_start[work[later]]]
        return work

    def nbytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir())


@dataclass(frozen=True)
class WorkInfo:
    work_id: str
    segment: str
    peak_start: int
    peak_end: int
    n_hashes: int
    duration_s: float
    sha256: str


class FingerprintIndex:
    """A fingerprint index folder, opened for reading and (under a file lock) writing."""

    def __init__(self, path: Path, cfg: FingerprintConfig, segments: list[_Segment]) -> None:
        self.path = path
        self.config = cfg
        self._segments = segments
        self._works: dict[str, tuple[int, int]] = {}
        for si, seg in enumerate(segments):
            for wi, w in enumerate(seg.works):
                self._works[w["id"]] = (si, wi)

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, cfg: FingerprintConfig = DEFAULT, *, create: bool = False) -> "FingerprintIndex":
        """Open (memory-mapped) or, with ``create``, start an empty index at ``path``.

        Raises IndexFormatError if the folder holds another format version or an
        index built with other fingerprint settings.
        """
        path = Path(path)
        manifest = path / MANIFEST
        if not manifest.exists():
            if not create:
                raise IndexFormatError(f"no fingerprint index at {path} (run `earwitness catalog import` first)")
            path.mkdir(parents=True, exist_ok=True)
            _write_manifest(path, cfg, [], 1)
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"{manifest} is unreadable: {exc}") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"{path}: index format {meta.get('format_version')}, this version reads "
                                   f"{FORMAT_VERSION}; rebuild it with `earwitness index rebuild`")
        if meta.get("config_digest") != cfg.digest():
            raise IndexFormatError(f"{path}: built with other fingerprint settings (digest {meta.get('config_digest')}, "
                                   f"expected {cfg.digest()}); rebuild it with `earwitness index rebuild`")
        segments = [_Segment.load(path / name, key_bits(cfg)) for name in meta["segments"]]
        return cls(path, cfg, segments)

    # ---- reading -------------------------------------------------------------------------------
    def __contains__(self, work_id: str) -> bool:
        return work_id in self._works

    def __len__(self) -> int:
        return len(self._works)

    def work_ids(self) -> list[str]:
        return list(self._works)

    def info(self, work_id: str) -> WorkInfo:
        si, wi = self._works[work_id]
        seg = self._segments[si]
        w = seg.works[wi]
        return WorkInfo(work_id, seg.name, w["peak_start"], w["peak_end"], w["n_hashes"], w["duration_s"], w.get("sha256", ""))

    def peaks_of(self, work_id: str) -> tuple[np.ndarray, np.ndarray]:
        """A work's peaks: ``(t frames, f bins)`` as float32 arrays in time order."""
        si, wi = self._works[work_id]
        seg = self._segments[si]
        w = seg.works[wi]
        a, b = w["peak_start"], w["peak_end"]
        return (np.asarray(seg.peak_t[a:b], np.float32) / T_SCALE, np.asarray(seg.peak_f[a:b], np.float32) / F_SCALE)

    def bucket_sizes(self, keys: np.ndarray) -> np.ndarray:
        """How many entries each key holds, summed over every segment (int64, one per key)."""
        keys = np.asarray(keys, dtype=np.int64)
        total = np.zeros(len(keys), dtype=np.int64)
        for seg in self._segments:
            lo, hi = seg.buckets(keys)
            total += (hi - lo).astype(np.int64)
        return total

    def lookup(self, keys: np.ndarray, *, max_bucket: int | None = None, sizes: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every stored entry under each key (keys holding more than ``max_bucket`` entries are skipped:
        so common in music that they say nothing about which work this is).

        A key's size is its total over every segment, or ``sizes`` when given (a sharded
        index passes the totals over all its shards), so how the works are split into
        segments or shards never changes which keys are skipped.

        Returns ``(probe, work, t_ref, f_ref, span_ref)``: the position in ``keys``
        of each hit, the hit's work (as an index into :meth:`work_ids` order),
        and its anchor's time (frames) and frequency (bins) and the triplet's span (frames).
        """
        keys = np.asarray(keys, dtype=np.int64)
        firsts, counts = [], []       # per segment, each probe's first entry and how many it holds
        for seg in self._segments:
            lo, hi = seg.buckets(keys)
            firsts.append(lo)
            counts.append(hi - lo)
        skip = None
        if max_bucket is not None:
            if sizes is None:
                sizes = counts[0] if len(counts) == 1 else sum(counts, np.zeros(len(keys), dtype=np.int64))
            skip = np.asarray(sizes) > max_bucket
        parts = []
        work_base = 0
        for seg, lo, n in zip(self._segments, firsts, counts):
            if skip is not None:
                n[skip] = 0
            if n.any():
                parts.append(seg.hits(lo, n, work_base))
            work_base += len(seg.works)
        if not parts:
            z = np.zeros(0)
            return z.astype(np.int64), z.astype(np.int64), z.astype(np.float32), z.astype(np.float32), z.astype(np.float32)
        if len(parts) == 1:
            return parts[0]  # type: ignore[return-value]
        return tuple(np.concatenate(x) for x in zip(*parts))  # type: ignore[return-value]

    def work_order(self) -> list[str]:
        """Work ids in the order :meth:`lookup` numbers them."""
        return [w["id"] for seg in self._segments for w in seg.works]

    def stats(self) -> dict:
        n_hashes = sum(s.n_hashes for s in self._segments)
        n_peaks = sum(len(s.peak_t) for s in self._segments)
        hours = sum(w["duration_s"] for s in self._segments for w in s.works) / 3600
        disk = sum(s.nbytes() for s in self._segments)
        return {"works": len(self), "segments": len(self._segments), "hashes": n_hashes, "peaks": n_peaks,
                "audio_hours": round(hours, 3), "disk_bytes": disk,
                "disk_mib_per_hour": round(disk / 2**20 / hours, 3) if hours else None,
                "format_version": FORMAT_VERSION, "config_digest": self.config.digest()}

    # ---- writing -------------------------------------------------------------------------------
    def add(self, fingerprints: list[WorkFingerprint]) -> None:
        """Add works as one new segment (replacing any with the same id), then merge small segments."""
        if not fingerprints:
            return
        with FolderLock(self.path):
            ids = {fp.work_id for fp in fingerprints}
            names = self._current_names()
            replaced = self._rewrite_without(ids, names)
            new_name = self._write_segment(_build_arrays(fingerprints))
            names = [n for n in replaced if n is not None] + [new_name]
            names = self._merge_small(names)
            self._commit(names)

    def remove(self, work_ids: list[str]) -> list[str]:
        """Remove works from the index (their hashes and peaks are deleted from disk). Returns those removed."""
        present = [w for w in work_ids if w in self._works]
        if not present:
            return []
        with FolderLock(self.path):
            names = [n for n in self._rewrite_without(set(present), self._current_names()) if n is not None]
            self._commit(names)
        return present

    def compact(self) -> None:
        """Merge every segment into one."""
        with FolderLock(self.path):
            names = self._current_names()
            if len(names) > 1:
                self._commit([self._merge(names)])

    # internal: every writer goes manifest -> new folders -> manifest swap -> sweep
    def _current_names(self) -> list[str]:
        return [s.name for s in self._segments]

    def _rewrite_without(self, ids: set[str], names: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for name in names:
            seg = self._segment(name)
            if not any(w["id"] in ids for w in seg.works):
                out.append(name)
                continue
            keep = [w for w in seg.works if w["id"] not in ids]
            out.append(self._write_segment(_filter_segment(seg, keep)) if keep else None)
        return out

    def _segment(self, name: str) -> _Segment:
        for s in self._segments:
            if s.name == name:
                return s
        return _Segment.load(self.path / name, key_bits(self.config))

    def _merge_small(self, names: list[str]) -> list[str]:
        while len(names) > MAX_SEGMENTS:
            sizes = sorted(names, key=lambda n: self._segment(n).n_hashes)
            a, b = sizes[0], sizes[1]
            merged = self._merge([a, b])
            names = [n for n in names if n not in (a, b)] + [merged]
        return names

    def _merge(self, names: list[str]) -> str:
        parts = []
        for name in names:
            seg = self._segment(name)
            parts.append(_filter_segment(seg, seg.works))
        return self._write_segment(_concat_arrays(parts))

    def _write_segment(self, arrays: dict) -> str:
        meta = json.loads((self.path / MANIFEST).read_text())
        number = meta["next_segment"]
        meta["next_segment"] = number + 1
        _atomic_write(self.path / MANIFEST, json.dumps(meta, indent=1))
        name = f"seg-{number:06d}"
        tmp = self.path / (name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for key in ("keys", "values", "peak_t", "peak_f"):
            with open(tmp / f"{key}.npy", "wb") as f:
                np.save(f, arrays[key])
                f.flush()
                os.fsync(f.fileno())
        (tmp / "works.json").write_text(json.dumps(arrays["works"]))
        os.replace(tmp, self.path / name)
        return name

    def _commit(self, names: list[str]) -> None:
        meta = json.loads((self.path / MANIFEST).read_text())
        _write_manifest(self.path, self.config, names, meta["next_segment"])
        fresh = FingerprintIndex.open(self.path, self.config)
        self._segments, self._works = fresh._segments, fresh._works
        _sweep(self.path, set(names))


def _bound(keys: np.ndarray, lo: np.ndarray, hi: np.ndarray, target: np.ndarray, *, right: bool) -> np.ndarray:
    """Per probe, the first position in sorted ``keys[lo:hi]`` whose key is above (``right``) or at
    least (not ``right``) ``target``: a binary search run for every probe at once."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        v = keys[np.where(active, mid, 0)].astype(np.int64)
        go_right = active & ((v <= target) if right else (v < target))
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)


class FolderLock:
    """One writer at a time per index folder (readers never lock: segments are immutable, and a
    sharded index's readers check its manifest). ``name`` is the lock file in the folder."""

    def __init__(self, path: Path, name: str = "write.lock") -> None:
        self.path = path / name

    def __enter__(self):
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _write_manifest(path: Path, cfg: FingerprintConfig, segments: list[str], next_segment: int) -> None:
    meta = {"format_version": FORMAT_VERSION, "config_digest": cfg.digest(), "config": asdict(cfg),
            "segments": segments, "next_segment": next_segment}
    _atomic_write(path / MANIFEST, json.dumps(meta, indent=1))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sweep(path: Path, live: set[str]) -> None:
    """Delete segment folders that no manifest names (left by replaced segments or a crash)."""
    for child in path.iterdir():
        if child.is_dir() and child.name.startswith("seg-") and child.name not in live:
            shutil.rmtree(child, ignore_errors=True)


def _build_arrays(fps: list[WorkFingerprint]) -> dict:
    peak_t, peak_f, keys, values, works = [], [], [], [], []
    base = 0
    for fp in fps:
        n = len(fp.peaks)
        peak_t.append(np.rint(np.clip(fp.peaks.t, 0, None) * T_SCALE).astype(np.uint32))
        peak_f.append(np.rint(np.clip(fp.peaks.f, 0, None) * F_SCALE).astype(np.uint16))
        keys.append(fp.keys.astype(np.uint32))
        values.append(pack_value(fp.anchors + base, fp.thirds))
        works.append({"id": fp.work_id, "peak_start": base, "peak_end": base + n, "n_hashes": int(len(fp.keys)),
                      "duration_s": round(float(fp.duration_s), 3), "sha256": fp.sha256})
        base += n
    return _sorted({"keys": np.concatenate(keys), "values": np.concatenate(values),
                    "peak_t": np.concatenate(peak_t), "peak_f": np.concatenate(peak_f), "works": works})


def _filter_segment(seg: _Segment, keep: list[dict]) -> dict:
    """The arrays of ``seg`` restricted to the works ``keep``, peak indices renumbered."""
    anchor, third = unpack_value(seg.values)
    new_index = np.full(len(seg.peak_t), -1, dtype=np.int64)
    works, parts_t, parts_f, base = [], [], [], 0
    for w in keep:
        a, b = w["peak_start"], w["peak_end"]
        new_index[a:b] = np.arange(base, base + b - a)
        parts_t.append(np.asarray(seg.peak_t[a:b]))
        parts_f.append(np.asarray(seg.peak_f[a:b]))
        works.append({**w, "peak_start": base, "peak_end": base + b - a})
        base += b - a
    mapped = new_index[anchor]
    mask = mapped >= 0
    return {"keys": np.asarray(seg.keys)[mask], "values": pack_value(mapped[mask], third[mask]),
            "peak_t": np.concatenate(parts_t) if parts_t else np.zeros(0, np.uint32),
            "peak_f": np.concatenate(parts_f) if parts_f else np.zeros(0, np.uint16), "works": works}


def _concat_arrays(parts: list[dict]) -> dict:
    keys, values, peak_t, peak_f, works, base = [], [], [], [], [], 0
    for p in parts:
        anchor, third = unpack_value(p["values"])
        keys.append(p["keys"])
        values.append(pack_value(anchor + base, third))
        peak_t.append(p["peak_t"])
        peak_f.append(p["peak_f"])
        works.extend({**w, "peak_start": w["peak_start"] + base, "peak_end": w["peak_end"] + base} for w in p["works"])
        base += len(p["peak_t"])
    return _sorted({"keys": np.concatenate(keys), "values": np.concatenate(values),
                    "peak_t": np.concatenate(peak_t), "peak_f": np.concatenate(peak_f), "works": works})


def _sorted(arrays: dict) -> dict:
    order = np.argsort(arrays["keys"], kind="stable")
    arrays["keys"] = np.ascontiguousarray(arrays["keys"][order], dtype=np.uint32)
    arrays["values"] = np.ascontiguousarray(arrays["values"][order], dtype=np.uint32)
    return arrays
