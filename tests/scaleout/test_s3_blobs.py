"""The blob store on a real S3-compatible server (moto_server, started by the tests)."""

from __future__ import annotations

import hashlib
import socket

import pytest

from earwitness.kernel import settings
from earwitness.kernel.blobs import (BlobChanged, BlobMissing, BlobSettings, BlobStore, BlobStoreUnavailable,
                                     open_blob_store)
from earwitness.kernel.s3blobs import S3BlobStore, parse_url


def _store(s3_server, bucket, tmp_path, *, endpoint=None, prefix="ew") -> S3BlobStore:
    cfg = BlobSettings(url=f"s3://{bucket}/{prefix}", endpoint_url=endpoint or s3_server.endpoint,
                       region="us-east-1", connect_timeout_s=1, read_timeout_s=2, max_attempts=1,
                       cache_dir="blob-cache")
    return S3BlobStore.from_settings(cfg, cache_root=tmp_path / "cache")


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


def test_put_get_exists_by_content(s3_server, tmp_path, creds):
    bucket = s3_server.new_bucket()
    store = _store(s3_server, bucket, tmp_path)
    sha = hashlib.sha256(b"hello").hexdigest()
    blob = store.put_bytes(b"hello", folder="media", suffix=".wav")
    assert blob.sha256 == sha and blob.path == f"media/{sha[:2]}/{sha}.wav"
    assert store.exists(blob.path) and not store.exists(f"media/00/{'0' * 64}.wav")
    assert store.get_bytes(blob.path) == b"hello"
    # the object really is in the bucket, under the prefix, with its hash in the metadata
    head = s3_server.client().head_object(Bucket=bucket, Key=f"ew/{blob.path}")
    assert head["Metadata"]["sha256"] == sha
    with pytest.raises(BlobMissing):
        store.get_bytes(f"media/00/{'0' * 64}.wav")


def test_same_bytes_same_name_as_local_store_and_puts_are_idempotent(s3_server, tmp_path, creds):
    bucket = s3_server.new_bucket()
    store = _store(s3_server, bucket, tmp_path)
    local = BlobStore(tmp_path / "home").put_bytes(b"evidence", folder="evidence/objects", suffix=".png")
    first = store.put_bytes(b"evidence", folder="evidence/objects", suffix=".png")
    modified = s3_server.client().head_object(Bucket=bucket, Key=f"ew/{first.path}")["LastModified"]
    src = tmp_path / "again.png"
    src.write_bytes(b"evidence")
    again = store.copy_in(src, folder="evidence/objects", suffix=".png")
    assert first == again == local          # evidence hashes and paths do not depend on where bytes live
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"ew/{first.path}"]
    assert s3_server.client().head_object(Bucket=bucket, Key=f"ew/{first.path}")["LastModified"] == modified


def test_move_in_and_copy_in(s3_server, tmp_path, creds):
    store = _store(s3_server, s3_server.new_bucket(), tmp_path)
    src = tmp_path / "clip.wav"
    src.write_bytes(b"RIFF-audio")
    blob = store.move_in(src, folder="media", suffix=".wav")
    assert not src.exists() and store.get_bytes(blob.path) == b"RIFF-audio"
    other = tmp_path / "other.wav"
    other.write_bytes(b"changed")
    with pytest.raises(BlobChanged):
        store.copy_in(other, folder="media", suffix=".wav", expected_sha256=blob.sha256)
    assert other.exists()


def test_local_path_downloads_once_and_checks_the_hash(s3_server, tmp_path, creds):
    bucket = s3_server.new_bucket()
    store = _store(s3_server, bucket, tmp_path)
    blob = store.put_bytes(b"x" * 100_000, folder="media", suffix=".wav")
    path = store.local_path(blob.path)
    assert path.read_bytes() == b"x" * 100_000 and path.is_relative_to(tmp_path / "cache")
    assert store.local_path(blob.path) == path
    # a damaged object is refused, on read and on download, never handed out as the blob
    s3_server.client().put_object(Bucket=bucket, Key=f"ew/{blob.path}", Body=b"tampered")
    with pytest.raises(BlobChanged, match="damaged"):
        store.get_bytes(blob.path)
    path.unlink()
    with pytest.raises(BlobChanged):
        store.local_path(blob.path)
    assert not path.exists() and not list(path.parent.glob("*.part"))


def test_dead_server_is_one_clear_line_and_loses_nothing(tmp_path, creds):
    with socket.socket() as s:      # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = BlobSettings(url="s3://media/ew", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1",
                       connect_timeout_s=1, read_timeout_s=1, max_attempts=2, cache_dir="blob-cache")
    store = S3BlobStore.from_settings(cfg, cache_root=tmp_path / "cache")
    src = tmp_path / "clip.wav"
    src.write_bytes(b"keep me")
    with pytest.raises(BlobStoreUnavailable) as err:
        store.move_in(src, folder="media", suffix=".wav")
    message = str(err.value)
    assert "\n" not in message and f"s3://media/ew at http://127.0.0.1:{port}" in message and "unreachable" in message
    assert src.read_bytes() == b"keep me"
    for call in (lambda: store.put_bytes(b"x", folder="media", suffix=".wav"),
                 lambda: store.get_bytes("media/aa/" + "a" * 64 + ".wav"),
                 lambda: store.local_path("media/aa/" + "a" * 64 + ".wav")):
        with pytest.raises(BlobStoreUnavailable):
            call()


def test_settings_choose_the_store(home, s3_settings, monkeypatch):
    store = open_blob_store()
    assert isinstance(store, S3BlobStore) and store.bucket == s3_settings and store.prefix == "earwitness"
    assert store.cache_root == home / "blob-cache"
    monkeypatch.setenv("EARWITNESS__BLOBS__URL", "local")
    assert isinstance(open_blob_store(settings.configure(home)), BlobStore)
    monkeypatch.setenv("EARWITNESS__BLOBS__URL", "ftp://nowhere")
    with pytest.raises(settings.SettingsError, match="blobs.url"):
        open_blob_store(settings.configure(home))
    monkeypatch.delenv("EARWITNESS__BLOBS__URL")
    monkeypatch.delenv("EARWITNESS__BLOBS__ENDPOINT_URL")
    assert isinstance(open_blob_store(settings.configure(home)), BlobStore)  # the shipped default


def test_parse_url():
    assert parse_url("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_url("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError):
        parse_url("s3:///nobucket")
