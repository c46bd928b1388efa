"""A fingerprint index split into shards, named by a versioned manifest.

Layout of a sharded index folder::

    shards.json        manifest: format, version, shard count, assignment rule, settings + digest,
                       work count, and per shard its works, hashes and every file's size and SHA-256
    shard-000/         an ordinary index folder (matchers.index) holding the works assigned to it
    shard-001/ ...

A work lives in shard ``sha256(work id) mod n`` (:func:`shard_of`), so every writer and
replica agrees where it is without asking anyone. A query fans out to every shard and
the hits are merged into one list numbered over all shards, so the matcher votes and
verifies exactly as on one index: the same works win with the same scores. The
stop-word skip (``max_bucket``) uses a key's total over all shards, not each shard's
share, for the same reason.

Every change (add, remove) rewrites the changed shards, then the manifest with the
next version, by an atomic rename. A replica opens with the version it expects and
refuses any other; it refuses a shard whose settings digest or own manifest is not the
one the manifest names (a shard caught mid-update, or copied from another replica),
and with ``verify_files`` every file's hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from matchers.config import DEFAULT, FingerprintConfig
from matchers.errors import IndexFormatError
from matchers.index import MANIFEST as SHARD_MANIFEST
from matchers.index import FingerprintIndex, FolderLock, WorkFingerprint, WorkInfo, _atomic_write

FORMAT = 1
MANIFEST = "shards.json"
ASSIGNMENT = "sha256(work_id) mod n_shards"


def shard_of(work_id: str, n_shards: int) -> int:
    """The shard a work belongs to: stable across processes, machines and Python versions."""
    return int.from_bytes(hashlib.sha256(work_id.encode()).digest()[:8], "big") % n_shards


def shard_name(i: int) -> str:
    return f"shard-{i:03d}"


def is_sharded(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).exists()


def open_index(path: str | os.PathLike, cfg: FingerprintConfig = DEFAULT, *, create: bool = False):
    """The index at ``path``: a :class:`ShardedIndex` where a shard manifest is, else a :class:`FingerprintIndex`."""
    return ShardedIndex.open(path, cfg) if is_sharded(path) else FingerprintIndex.open(path, cfg, create=create)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def describe_shard(folder: Path, known: dict | None = None) -> dict:
    """A shard's manifest entry: its works, hashes and every file's size and hash.

    Segment files never change once written (a change writes new segment folders), so a
    file already described in ``known`` with the same size keeps its hash instead of being read again.
    """
    index = json.loads((folder / SHARD_MANIFEST).read_text())
    files, works, hashes = {}, 0, 0
    for seg in index["segments"]:
        for f in sorted((folder / seg).iterdir()):
            rel = f"{seg}/{f.name}"
            size = f.stat().st_size
            old = (known or {}).get(rel)
            files[rel] = {"bytes": size, "sha256": old["sha256"] if old and old["bytes"] == size else _sha256(f)}
        listed = json.loads((folder / seg / "works.json").read_text())
        works += len(listed)
        hashes += sum(w["n_hashes"] for w in listed)
    return {"name": folder.name, "works": works, "hashes": hashes,
            "index_json_sha256": _sha256(folder / SHARD_MANIFEST), "files": files}


def write_manifest(path: Path, cfg: FingerprintConfig, shards: list[dict], version: int) -> dict:
    """Write ``shards.json`` atomically (temporary file, fsync, rename)."""
    meta = {"format": FORMAT, "version": version, "n_shards": len(shards), "assignment": ASSIGNMENT,
            "config_digest": cfg.digest(), "config": asdict(cfg),
            "works": sum(s["works"] for s in shards), "hashes": sum(s["hashes"] for s in shards),
            "shards": shards}
    _atomic_write(path / MANIFEST, json.dumps(meta, indent=1))
    return meta


class ShardedIndex:
    """Several index folders read as one: the reading interface of :class:`FingerprintIndex`."""

    def __init__(self, path: Path, cfg: FingerprintConfig, manifest: dict, shards: list[FingerprintIndex]) -> None:
        self.path = path
        self.config = cfg
        self.manifest = manifest
        self.shards = shards
        self._where: dict[str, int] = {}
        self._order: list[str] = []
        self._base: list[int] = []
        for i, shard in enumerate(shards):
            self._base.append(len(self._order))
            order = shard.work_order()
            self._order.extend(order)
            self._where.update((w, i) for w in order)

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, n_shards: int, cfg: FingerprintConfig = DEFAULT) -> "ShardedIndex":
        """An empty sharded index of ``n_shards`` shards at ``path`` (a new folder)."""
        path = Path(path)
        if n_shards < 1:
            raise ValueError("n_shards must be at least 1")
        if (path / MANIFEST).exists() or (path / SHARD_MANIFEST).exists():
            raise IndexFormatError(f"{path} already holds an index")
        path.mkdir(parents=True, exist_ok=True)
        entries = []
        for i in range(n_shards):
            FingerprintIndex.open(path / shard_name(i), cfg, create=True)
            entries.append(describe_shard(path / shard_name(i)))
        write_manifest(path, cfg, entries, 1)
        return cls.open(path, cfg)

    @classmethod
    def open(cls, path: str | os.PathLike, cfg: FingerprintConfig = DEFAULT, *,
             expect_version: int | None = None, verify_files: bool = False) -> "ShardedIndex":
        """Open every shard (memory-mapped), refusing anything the manifest does not vouch for."""
        path = Path(path)
        try:
            meta = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise IndexFormatError(f"no sharded index at {path} (no {MANIFEST})") from None
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"{path / MANIFEST} is unreadable: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise IndexFormatError(f"{path}: shard manifest format {meta.get('format')}, this version reads {FORMAT}")
        if meta.get("config_digest") != cfg.digest():
            raise IndexFormatError(f"{path}: built with other fingerprint settings (digest {meta.get('config_digest')}, "
                                   f"expected {cfg.digest()})")
        if expect_version is not None and meta["version"] != expect_version:
            raise IndexFormatError(f"{path}: manifest version {meta['version']}, this worker expects {expect_version}")
        if len(meta["shards"]) != meta["n_shards"]:
            raise IndexFormatError(f"{path}: manifest lists {len(meta['shards'])} shards of {meta['n_shards']}")
        shards = []
        for entry in meta["shards"]:
            folder = path / entry["name"]
            _check_shard(folder, entry, meta["version"], verify_files)
            shards.append(FingerprintIndex.open(folder, cfg))  # refuses another format or settings digest
        index = cls(path, cfg, meta, shards)
        if len(index) != meta["works"]:
            raise IndexFormatError(f"{path}: shards hold {len(index)} works, manifest version {meta['version']} "
                                   f"says {meta['works']}")
        return index

    @property
    def version(self) -> int:
        return self.manifest["version"]

    # ---- reading (as FingerprintIndex) ------------------------------------------------------------
    def __contains__(self, work_id: str) -> bool:
        return work_id in self._where

    def __len__(self) -> int:
        return len(self._order)

    def work_ids(self) -> list[str]:
        return list(self._order)

    def work_order(self) -> list[str]:
        return list(self._order)

    def info(self, work_id: str) -> WorkInfo:
        return self.shards[self._where[work_id]].info(work_id)

    def peaks_of(self, work_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self.shards[self._where[work_id]].peaks_of(work_id)

    def bucket_sizes(self, keys: np.ndarray) -> np.ndarray:
        return sum((s.bucket_sizes(keys) for s in self.shards), np.zeros(len(keys), dtype=np.int64))

    def lookup(self, keys: np.ndarray, *, max_bucket: int | None = None, sizes: np.ndarray | None = None):
        """Every shard's hits, merged and numbered in :meth:`work_order` (see FingerprintIndex.lookup).
        Which keys are skipped is decided on the sizes summed over every shard."""
        keys = np.asarray(keys, dtype=np.int64)
        if max_bucket is not None and sizes is None:
            sizes = self.bucket_sizes(keys)
        parts = []
        for base, shard in zip(self._base, self.shards):
            probe, work, t_ref, f_ref, span_ref = shard.lookup(keys, max_bucket=max_bucket, sizes=sizes)
            parts.append((probe, work + base, t_ref, f_ref, span_ref))
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))

    def stats(self) -> dict:
        per = [s.stats() for s in self.shards]
        hours = sum(p["audio_hours"] for p in per)
        disk = sum(p["disk_bytes"] for p in per)
        return {"works": len(self), "shards": len(self.shards), "version": self.version,
                "segments": sum(p["segments"] for p in per), "hashes": sum(p["hashes"] for p in per),
                "peaks": sum(p["peaks"] for p in per), "audio_hours": round(hours, 3), "disk_bytes": disk,
                "disk_mib_per_hour": round(disk / 2**20 / hours, 3) if hours else None,
                "config_digest": self.config.digest()}

    # ---- writing -------------------------------------------------------------------------------
    def add(self, fingerprints: list[WorkFingerprint]) -> int:
        """Add (or replace) works in their shards, then publish the next manifest version. Returns it."""
        groups: dict[int, list[WorkFingerprint]] = {}
        for fp in fingerprints:
            groups.setdefault(shard_of(fp.work_id, len(self.shards)), []).append(fp)
        with FolderLock(self.path, "shards.lock"):
            for i, group in groups.items():
                self.shards[i].add(group)
            return self._publish(set(groups))

    def remove(self, work_ids: list[str]) -> list[str]:
        """Remove works from their shards, then publish the next manifest version. Returns those removed."""
        present = [w for w in work_ids if w in self._where]
        if not present:
            return []
        groups: dict[int, list[str]] = {}
        for w in present:
            groups.setdefault(self._where[w], []).append(w)
        with FolderLock(self.path, "shards.lock"):
            for i, ids in groups.items():
                self.shards[i].remove(ids)
            self._publish(set(groups))
        return present

    def _publish(self, changed: set[int]) -> int:
        current = json.loads((self.path / MANIFEST).read_text())
        entries = []
        for i, old in enumerate(current["shards"]):
            entries.append(describe_shard(self.path / shard_name(i), old["files"]) if i in changed else old)
        self.manifest = write_manifest(self.path, self.config, entries, current["version"] + 1)
        fresh = ShardedIndex.open(self.path, self.config)
        self.__init__(fresh.path, fresh.config, fresh.manifest, fresh.shards)
        return self.version


def _check_shard(folder: Path, entry: dict, version: int, verify_files: bool) -> None:
    if _sha256(folder / SHARD_MANIFEST) != entry["index_json_sha256"]:
        raise IndexFormatError(f"{folder.name} is not the shard manifest version {version} names "
                               "(written mid-update, or copied from another replica): reopen or resync")
    for rel, want in entry["files"].items():
        f = folder / rel
        try:
            size = f.stat().st_size
        except FileNotFoundError:
            raise IndexFormatError(f"{folder.name}: {rel} is missing (manifest version {version})") from None
        if size != want["bytes"]:
            raise IndexFormatError(f"{folder.name}: {rel} has {size} bytes, manifest version {version} says "
                                   f"{want['bytes']}")
        if verify_files and _sha256(f) != want["sha256"]:
            raise IndexFormatError(f"{folder.name}: {rel} does not hash to what manifest version {version} says")
