"""One content-addressed blob store for media, page captures and evidence objects.

A blob is named by the SHA-256 of its bytes: ``<root>/<folder>/<sha[:2]>/<sha><suffix>``,
written to a temporary file beside it and renamed into place, so a reader never
sees half a file and the same bytes are stored once. Paths handed out are
relative to the root (the data home), which is what records keep.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from earwitness.kernel.digests import file_sha256


class BlobChanged(Exception):
    """A source file's bytes changed while it was being copied in (it is not stored)."""


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
