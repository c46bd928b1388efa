"""The one content-addressed blob store (media, page captures, evidence objects)."""

from __future__ import annotations

import hashlib

import pytest

from earwitness.kernel.blobs import BlobChanged, BlobStore


def test_same_bytes_stored_once_under_their_hash(tmp_path):
    store = BlobStore(tmp_path)
    a = store.put_bytes(b"hello", folder="media", suffix=".wav")
    b = store.put_bytes(b"hello", folder="media", suffix=".wav")
    sha = hashlib.sha256(b"hello").hexdigest()
    assert a == b and a.sha256 == sha and a.path == f"media/{sha[:2]}/{sha}.wav"
    assert store.path(a.path).read_bytes() == b"hello"
    assert not list((tmp_path / "media").glob("*.part"))


def test_move_in_removes_the_source_and_keeps_an_existing_copy(tmp_path):
    store = BlobStore(tmp_path)
    first = tmp_path / "dl1"
    first.write_bytes(b"x" * 10)
    blob = store.move_in(first, folder="media", suffix=".wav")
    second = tmp_path / "dl2"
    second.write_bytes(b"x" * 10)
    assert store.move_in(second, folder="media", suffix=".wav") == blob
    assert not first.exists() and not second.exists() and store.path(blob.path).exists()


def test_copy_in_refuses_bytes_that_differ_from_the_recorded_hash(tmp_path):
    store = BlobStore(tmp_path)
    src = tmp_path / "page.html"
    src.write_bytes(b"<html>now</html>")
    with pytest.raises(BlobChanged):
        store.copy_in(src, folder="evidence/objects", suffix=".html",
                      expected_sha256=hashlib.sha256(b"<html>then</html>").hexdigest())
    assert not list((tmp_path / "evidence" / "objects").rglob("*.html"))
    blob = store.copy_in(src, folder="evidence/objects", suffix=".html")
    assert src.exists() and store.path(blob.path).read_bytes() == src.read_bytes()
