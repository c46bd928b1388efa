"""Write a whole index folder from a stream of works, without holding its hashes in memory.

:meth:`FingerprintIndex.add` sorts a batch in memory, which is right for a catalog
import but not for hundreds of millions of hashes. :class:`IndexWriter` keeps
only a small buffer: every few million hashes it sorts the buffer and appends
it, split by the key's top bits, to one of ``PARTITIONS`` files on disk; at the
end each partition (a few hundred MiB at most) is sorted and copied into the
memory-mapped ``keys.npy``/``values.npy``. Peaks go straight to disk in work
order. A segment is closed when the next work would take it past the 2**28 peaks
a value can address, and a new one begun.

Entries are sorted by (key, value), so the folder's bytes depend only on the works
and their order, not on buffer sizes. The folder is written under ``<path>.tmp``
and renamed into place when finished: a crash leaves no half index at ``path``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from matchers.config import FingerprintConfig
from matchers.hashes import PEAK_INDEX_BITS, key_bits, pack_value
from matchers.index import F_SCALE, T_SCALE, WorkFingerprint, _write_manifest
from matchers.shards import describe_shard, shard_name, shard_of, write_manifest

PARTITION_BITS = 6
PARTITIONS = 1 << PARTITION_BITS
ENTRY_SHIFT = 32                           # an entry is key << 32 | value, one uint64
COPY_CHUNK = 1 << 24                       # entries per copy step when assembling the arrays


class _SegmentWriter:
    """One segment folder, filled work by work, assembled by :meth:`finish`."""

    def __init__(self, folder: Path, buffer_hashes: int, bits: int) -> None:
        self.folder = folder
        self.partition_shift = np.uint64(ENTRY_SHIFT + bits - PARTITION_BITS)  # a key's top bits pick its file
        folder.mkdir(parents=True)
        self.buffer_hashes = buffer_hashes
        self.parts = [open(folder / f"part-{p:02d}.bin", "wb") for p in range(PARTITIONS)]
        self.part_sizes = [0] * PARTITIONS
        self.peak_t = open(folder / "peak_t.bin", "wb")
        self.peak_f = open(folder / "peak_f.bin", "wb")
        self.entries: list[np.ndarray] = []
        self.buffered = 0
        self.n_peaks = 0
        self.works: list[dict] = []

    def add(self, fp: WorkFingerprint) -> None:
        n = len(fp.peaks)
        np.rint(np.clip(fp.peaks.t, 0, None) * T_SCALE).astype(np.uint32).tofile(self.peak_t)
        np.rint(np.clip(fp.peaks.f, 0, None) * F_SCALE).astype(np.uint16).tofile(self.peak_f)
        values = pack_value(fp.anchors + self.n_peaks, fp.thirds).astype(np.uint64)
        self.entries.append((fp.keys.astype(np.uint64) << np.uint64(ENTRY_SHIFT)) | values)
        self.buffered += len(values)
        self.works.append({"id": fp.work_id, "peak_start": self.n_peaks, "peak_end": self.n_peaks + n,
                           "n_hashes": int(len(fp.keys)), "duration_s": round(float(fp.duration_s), 3),
                           "sha256": fp.sha256})
        self.n_peaks += n
        if self.buffered >= self.buffer_hashes:
            self._spill()

    def _spill(self) -> None:
        """Sort the buffer and append each partition's run to its file."""
        if not self.entries:
            return
        run = np.sort(np.concatenate(self.entries))
        self.entries, self.buffered = [], 0
        bounds = np.searchsorted(run >> self.partition_shift, np.arange(PARTITIONS + 1, dtype=np.uint64))
        for p in range(PARTITIONS):
            a, b = int(bounds[p]), int(bounds[p + 1])
            if b > a:
                run[a:b].tofile(self.parts[p])
                self.part_sizes[p] += b - a

    def finish(self) -> int:
        """Write keys/values/peaks/works in the segment layout; returns the number of hashes."""
        self._spill()
        for fh in (*self.parts, self.peak_t, self.peak_f):
            fh.close()
        n = sum(self.part_sizes)
        keys = np.lib.format.open_memmap(self.folder / "keys.npy", mode="w+", dtype=np.uint32, shape=(n,))
        values = np.lib.format.open_memmap(self.folder / "values.npy", mode="w+", dtype=np.uint32, shape=(n,))
        at = 0
        for p in range(PARTITIONS):
            part = self.folder / f"part-{p:02d}.bin"
            run = np.fromfile(part, dtype=np.uint64)
            run.sort()
            keys[at:at + len(run)] = run >> np.uint64(ENTRY_SHIFT)
            values[at:at + len(run)] = run & np.uint64(0xFFFFFFFF)
            at += len(run)
            del run
            part.unlink()
        keys.flush()
        values.flush()
        del keys, values
        for name, dtype in (("peak_t", np.uint32), ("peak_f", np.uint16)):
            raw = self.folder / f"{name}.bin"
            _raw_to_npy(raw, self.folder / f"{name}.npy", dtype)
            raw.unlink()
        (self.folder / "works.json").write_text(json.dumps(self.works))
        return n


def _raw_to_npy(raw: Path, dest: Path, dtype) -> None:
    n = raw.stat().st_size // np.dtype(dtype).itemsize
    out = np.lib.format.open_memmap(dest, mode="w+", dtype=dtype, shape=(n,))
    src = np.memmap(raw, dtype=dtype, mode="r", shape=(n,)) if n else np.zeros(0, dtype)
    for a in range(0, n, COPY_CHUNK):
        out[a:a + COPY_CHUNK] = src[a:a + COPY_CHUNK]
    out.flush()
    del out, src


class IndexWriter:
    """A new index folder at ``path`` (which must not exist), built from works added one by one.

    ``max_segment_peaks`` (at most 2**28) bounds a segment; ``buffer_hashes`` bounds the
    memory held between spills (16 bytes a hash while sorting).
    """

    def __init__(self, path: str | os.PathLike, cfg: FingerprintConfig, *,
                 max_segment_peaks: int = 1 << PEAK_INDEX_BITS, buffer_hashes: int = 4_000_000) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists: an index is written to a new folder only")
        if not 0 < max_segment_peaks <= 1 << PEAK_INDEX_BITS:
            raise ValueError(f"max_segment_peaks must be in 1..2**{PEAK_INDEX_BITS}")
        self.cfg = cfg
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.max_segment_peaks = max_segment_peaks
        self.buffer_hashes = buffer_hashes
        self.names: list[str] = []
        self.segment: _SegmentWriter | None = None
        self.ids: set[str] = set()
        self.n_hashes = 0

    def add(self, fp: WorkFingerprint) -> None:
        if fp.work_id in self.ids:
            raise ValueError(f"work {fp.work_id!r} added twice")
        if len(fp.peaks) > self.max_segment_peaks:
            raise ValueError(f"work {fp.work_id!r} has more peaks than a segment holds")
        self.ids.add(fp.work_id)
        if self.segment is None or self.segment.n_peaks + len(fp.peaks) > self.max_segment_peaks:
            self._close_segment()
            name = f"seg-{len(self.names) + 1:06d}"
            self.names.append(name)
            self.segment = _SegmentWriter(self.tmp / name, self.buffer_hashes, key_bits(self.cfg))
        self.segment.add(fp)

    def _close_segment(self) -> None:
        if self.segment is not None:
            self.n_hashes += self.segment.finish()
            self.segment = None

    def finish(self) -> Path:
        """Assemble the last segment, write the manifest, and move the folder into place."""
        self._close_segment()
        _write_manifest(self.tmp, self.cfg, self.names, len(self.names) + 1)
        os.replace(self.tmp, self.path)
        return self.path

    def abandon(self) -> None:
        """Delete what was written (after a failure)."""
        for fh in (getattr(self.segment, "parts", []) if self.segment else []):
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class ShardedIndexWriter:
    """A new sharded index at ``path`` (see matchers.shards), each shard written by an :class:`IndexWriter`.

    Works go to shard ``shard_of(work id)``; :meth:`finish` hashes every file into the
    manifest (version 1) and moves the folder into place.
    """

    def __init__(self, path: str | os.PathLike, cfg: FingerprintConfig, n_shards: int, **writer_options) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists: an index is written to a new folder only")
        self.cfg = cfg
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.writers = [IndexWriter(self.tmp / shard_name(i), cfg, **writer_options) for i in range(n_shards)]

    def add(self, fp: WorkFingerprint) -> None:
        self.writers[shard_of(fp.work_id, len(self.writers))].add(fp)

    def finish(self) -> Path:
        entries = [describe_shard(w.finish()) for w in self.writers]
        write_manifest(self.tmp, self.cfg, entries, 1)
        os.replace(self.tmp, self.path)
        return self.path

    def abandon(self) -> None:
        for w in self.writers:
            w.abandon()
        shutil.rmtree(self.tmp, ignore_errors=True)
