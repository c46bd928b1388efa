"""One content-addressed blob store for media, page captures and evidence objects.

A blob is named by the SHA-256 of its bytes: ``<folder>/<sha[:2]>/<sha><suffix>``,
relative to the store's root, which is what records keep. Two implementations of
one interface (``put_bytes``, ``move_in``, ``copy_in``, ``exists``, ``get_bytes``,
``local_path``), chosen by the ``blobs`` settings (:func:`open_blob_store`):

- :class:`BlobStore`, files under the data home (the default): written to a
  temporary file beside the target and renamed into place, so a reader never sees
  half a file and the same bytes are stored once;
- :class:`earwitness.kernel.s3blobs.S3BlobStore`, an S3-compatible bucket, for
  processes on several machines sharing media, evidence and letters.

The hash is the name wherever the bytes live, so evidence hashes do not change when
the store does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from earwitness.kernel import settings
from earwitness.kernel.digests import file_sha256


class BlobChanged(Exception):
    """A source file's bytes changed while it was being copied in (it is not stored),
    or stored bytes no longer hash to their name."""


class BlobMissing(Exception):
    """No blob is stored under that path."""


class BlobStoreUnavailable(Exception):
    """The store cannot be reached (the message is one line naming it); nothing was lost."""


class BlobSettings(settings.Section):
    """Section ``blobs`` (config/blobs.yaml): where blobs live."""

    url: str
    endpoint_url: str
    region: str
    connect_timeout_s: float
    read_timeout_s: float
    max_attempts: int
    cache_dir: str


@dataclass(frozen=True)
class Blob:
    """A stored blob: its SHA-256 (hex) and its path relative to the store's root."""

    sha256: str
    path: str


class BlobStore:
    """Content-addressed files under ``root`` (the data home)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _target(self, folder: str, sha: str, suffix: str) -> tuple[str, Path]:
        rel = Path(folder) / sha[:2] / f"{sha}{suffix}"
        return rel.as_posix(), self.root / rel

    def _temp(self, folder: str) -> Path:
        base = self.root / folder
        base.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=base, suffix=".part")
        os.close(fd)
        return Path(name)

    def _place(self, tmp: Path, folder: str, sha: str, suffix: str) -> Blob:
        rel, dest = self._target(folder, sha, suffix)
        if dest.exists():
            tmp.unlink(missing_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        return Blob(sha, rel)

    def put_bytes(self, data: bytes, *, folder: str, suffix: str) -> Blob:
        """Store ``data``; an identical blob already there is kept."""
        tmp = self._temp(folder)
        tmp.write_bytes(data)
        return self._place(tmp, folder, hashlib.sha256(data).hexdigest(), suffix)

    def move_in(self, src: str | os.PathLike, *, folder: str, suffix: str) -> Blob:
        """Move a finished file (a download, a decoded WAV) into the store; ``src`` is gone afterwards."""
        src = Path(src)
        return self._place(src, folder, file_sha256(src), suffix)

    def copy_in(self, src: str | os.PathLike, *, folder: str, suffix: str, expected_sha256: str | None = None) -> Blob:
        """Copy ``src`` in; with ``expected_sha256``, refuse bytes that differ from it (:class:`BlobChanged`)."""
        src = Path(src)
        sha = expected_sha256 or file_sha256(src)
        rel, dest = self._target(folder, sha, suffix)
        if dest.exists():
            return Blob(sha, rel)
        tmp = self._temp(folder)
        shutil.copyfile(src, tmp)
        if file_sha256(tmp) != sha:
            tmp.unlink(missing_ok=True)
            raise BlobChanged(f"{src} changed while it was being copied")
        return self._place(tmp, folder, sha, suffix)

    def path(self, rel: str | os.PathLike) -> Path:
        """The absolute path of a blob's relative path."""
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def get_bytes(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"no blob {rel} under {self.root}") from None

    def local_path(self, rel: str) -> Path:
        """A local file holding the blob: here, the blob itself."""
        path = self.root / rel
        if not path.is_file():
            raise BlobMissing(f"no blob {rel} under {self.root}")
        return path

    def describe(self) -> str:
        return str(self.root)


settings.register_section("blobs", BlobSettings)


def open_blob_store(current: settings.Settings | None = None):
    """The store the ``blobs`` settings name: files under the data home, or an S3-compatible bucket."""
    current = current or settings.get()
    cfg = BlobSettings.model_validate(dict(current.section("blobs")))
    if cfg.url == "local":
        return BlobStore(current.home)
    if cfg.url.startswith("s3://"):
        from earwitness.kernel.s3blobs import S3BlobStore
        return S3BlobStore.from_settings(cfg, cache_root=current.path(cfg.cache_dir))
    raise settings.SettingsError(f"{current.origin('blobs.url')}: blobs.url: expected 'local' or "
                                 f"s3://bucket/prefix, got {cfg.url!r}")
