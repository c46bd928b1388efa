"""The blob store on an S3-compatible bucket (AWS S3, MinIO, Ceph, moto): the interface of ``blobs.BlobStore``.

A blob's key is ``<prefix>/<folder>/<sha[:2]>/<sha><suffix>``, the same relative
path a local store uses, so records keep one path whatever the store. A put first
asks whether the key exists (the same bytes are stored once; a repeated put is a
no-op), then uploads with the SHA-256 in the object's metadata; S3 makes an object
visible only once whole, so a reader never sees half of one. ``move_in`` deletes
the local file only after the upload succeeded, so a dead server loses nothing.

Reads check the bytes against the hash in their name: a damaged object is an
error, never evidence. :meth:`local_path` downloads a blob once into a local cache
(for the decoder, which wants a file) and checks it there too.

Every failure to reach the server (refused, timed out, DNS) becomes one
:class:`BlobStoreUnavailable` naming the store and the cause.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from earwitness.kernel.blobs import Blob, BlobChanged, BlobMissing, BlobSettings, BlobStoreUnavailable
from earwitness.kernel.digests import file_sha256

NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


class S3BlobStore:
    """Content-addressed blobs in ``bucket`` under ``prefix``, read through ``cache_root`` when a file is needed."""

    def __init__(self, client, bucket: str, prefix: str, *, cache_root: str | os.PathLike, label: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.cache_root = Path(cache_root)
        self.label = label

    @classmethod
    def from_settings(cls, cfg: BlobSettings, *, cache_root: str | os.PathLike) -> "S3BlobStore":
        bucket, prefix = parse_url(cfg.url)
        client = boto3.session.Session().client(
            "s3", endpoint_url=cfg.endpoint_url or None, region_name=cfg.region,
            config=Config(connect_timeout=cfg.connect_timeout_s, read_timeout=cfg.read_timeout_s,
                          retries={"max_attempts": cfg.max_attempts, "mode": "standard"},
                          s3={"addressing_style": "path"}))
        label = cfg.url + (f" at {cfg.endpoint_url}" if cfg.endpoint_url else "")
        return cls(client, bucket, prefix, cache_root=cache_root, label=label)

    def describe(self) -> str:
        return self.label

    # ---- names ---------------------------------------------------------------------------------
    @staticmethod
    def _rel(folder: str, sha: str, suffix: str) -> str:
        return f"{folder.strip('/')}/{sha[:2]}/{sha}{suffix}"

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _call(self, what: str, fn, **kwargs):
        """One S3 request; unreachable stores become one clear line."""
        try:
            return fn(**kwargs)
        except EndpointConnectionError as exc:
            raise BlobStoreUnavailable(f"blob store {self.label} unreachable ({what}): {exc}") from None
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(f"blob store {self.label} failed ({what}): {exc}") from None

    # ---- writing -------------------------------------------------------------------------------
    def put_bytes(self, data: bytes, *, folder: str, suffix: str) -> Blob:
        """Store ``data``; an identical blob already there is kept."""
        sha = hashlib.sha256(data).hexdigest()
        rel = self._rel(folder, sha, suffix)
        if not self.exists(rel):
            self._call(f"put {rel}", self.client.put_object, Bucket=self.bucket, Key=self._key(rel), Body=data,
                       Metadata={"sha256": sha})
        return Blob(sha, rel)

    def copy_in(self, src: str | os.PathLike, *, folder: str, suffix: str, expected_sha256: str | None = None) -> Blob:
        """Upload ``src``; with ``expected_sha256``, refuse bytes that differ from it (:class:`BlobChanged`)."""
        src = Path(src)
        sha = file_sha256(src)
        if expected_sha256 and sha != expected_sha256:
            raise BlobChanged(f"{src} changed: it hashes to {sha}, not {expected_sha256}")
        rel = self._rel(folder, sha, suffix)
        if not self.exists(rel):
            self._call(f"upload {rel}", self.client.upload_file, Filename=str(src), Bucket=self.bucket,
                       Key=self._key(rel), ExtraArgs={"Metadata": {"sha256": sha}})
        return Blob(sha, rel)

    def move_in(self, src: str | os.PathLike, *, folder: str, suffix: str) -> Blob:
        """Upload a finished file, then delete it (only once the store holds it)."""
        blob = self.copy_in(src, folder=folder, suffix=suffix)
        Path(src).unlink(missing_ok=True)
        return blob

    # ---- reading -------------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        try:
            self._call(f"head {rel}", self.client.head_object, Bucket=self.bucket, Key=self._key(rel))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                return False
            raise BlobStoreUnavailable(f"blob store {self.label} refused head {rel}: {exc}") from None

    def get_bytes(self, rel: str) -> bytes:
        """The blob's bytes, checked against the hash in its name."""
        try:
            body = self._call(f"get {rel}", self.client.get_object, Bucket=self.bucket, Key=self._key(rel))["Body"]
            data = body.read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                raise BlobMissing(f"no blob {rel} in {self.label}") from None
            raise BlobStoreUnavailable(f"blob store {self.label} refused get {rel}: {exc}") from None
        _check(rel, hashlib.sha256(data).hexdigest(), self.label)
        return data

    def local_path(self, rel: str) -> Path:
        """A local file holding the blob: downloaded once into the cache, checked against its hash."""
        dest = self.cache_root / rel
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        os.close(fd)
        try:
            try:
                self._call(f"download {rel}", self.client.download_file, Bucket=self.bucket, Key=self._key(rel),
                           Filename=tmp)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                    raise BlobMissing(f"no blob {rel} in {self.label}") from None
                raise BlobStoreUnavailable(f"blob store {self.label} refused download {rel}: {exc}") from None
            _check(rel, file_sha256(tmp), self.label)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest


def _check(rel: str, actual: str, label: str) -> None:
    name = Path(rel).name.split(".", 1)[0]
    if len(name) == 64 and actual != name:
        raise BlobChanged(f"blob {rel} in {label} hashes to {actual}: the stored bytes are damaged")
