"""The index on disk: persistence, version and settings checks, incremental add and remove, crash safety."""

import dataclasses
import json

import numpy as np
import pytest

from matchers.config import DEFAULT
from matchers.errors import IndexFormatError
from matchers.fingerprint import fingerprint_samples
from matchers.index import MANIFEST, FingerprintIndex
from matchers.match import Matcher
from tests.matchers.generated import song


@pytest.fixture
def fps():
    return [fingerprint_samples(f"s{seed}", song(seed, 20.0), DEFAULT) for seed in (21, 22, 23)]


def _hits_per_work(index, fp):
    probe, work, *_ = index.lookup(fp.keys)
    order = index.work_order()
    return {order[w]: int(n) for w, n in zip(*np.unique(work, return_counts=True))}


def test_persisted_index_answers_like_the_one_written(tmp_path, fps):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    idx.add(fps)
    again = FingerprintIndex.open(tmp_path)
    assert sorted(again.work_ids()) == ["s21", "s22", "s23"]
    hits = _hits_per_work(again, fps[1])
    assert max(hits, key=hits.get) == "s22" and hits["s22"] >= len(fps[1].keys)
    t, f = again.peaks_of("s22")
    np.testing.assert_allclose(t, np.clip(fps[1].peaks.t, 0, None), atol=1 / 16)
    np.testing.assert_allclose(f, np.clip(fps[1].peaks.f, 0, None), atol=1 / 64)


def test_other_format_version_is_refused(tmp_path, fps):
    FingerprintIndex.open(tmp_path, DEFAULT, create=True).add(fps[:1])
    meta = json.loads((tmp_path / MANIFEST).read_text())
    meta["format_version"] = 999
    (tmp_path / MANIFEST).write_text(json.dumps(meta))
    with pytest.raises(IndexFormatError, match="format 999"):
        FingerprintIndex.open(tmp_path)


def test_other_fingerprint_settings_are_refused(tmp_path, fps):
    FingerprintIndex.open(tmp_path, DEFAULT, create=True).add(fps[:1])
    with pytest.raises(IndexFormatError, match="other fingerprint settings"):
        FingerprintIndex.open(tmp_path, dataclasses.replace(DEFAULT, peaks_per_second=30.0))


def test_missing_index_says_how_to_make_one(tmp_path):
    with pytest.raises(IndexFormatError, match="catalog import"):
        FingerprintIndex.open(tmp_path / "nothing")


def test_remove_deletes_the_work_from_disk(tmp_path, fps):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    idx.add(fps)
    before = sum(p.stat().st_size for p in tmp_path.rglob("*.npy"))
    assert idx.remove(["s22"]) == ["s22"]
    again = FingerprintIndex.open(tmp_path)
    assert "s22" not in again and sorted(again.work_ids()) == ["s21", "s23"]
    assert "s22" not in _hits_per_work(again, fps[1])
    after = sum(p.stat().st_size for p in tmp_path.rglob("*.npy"))
    assert after < before
    assert again.stats()["hashes"] == len(fps[0].keys) + len(fps[2].keys)
    # the remaining works still answer
    assert max(_hits_per_work(again, fps[2]).items(), key=lambda kv: kv[1])[0] == "s23"


def test_incremental_adds_merge_segments_and_keep_every_work(tmp_path):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    fps = [fingerprint_samples(f"s{seed}", song(seed, 6.0), DEFAULT) for seed in range(30, 40)]
    for fp in fps:
        idx.add([fp])
    again = FingerprintIndex.open(tmp_path)
    assert len(again) == 10 and again.stats()["segments"] <= 6
    for fp in fps:
        hits = _hits_per_work(again, fp)
        assert max(hits, key=hits.get) == fp.work_id
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_readding_a_work_replaces_it(tmp_path, fps):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    idx.add(fps)
    changed = dataclasses.replace(fingerprint_samples("s21", song(99, 20.0), DEFAULT), sha256="new")
    idx.add([changed])
    again = FingerprintIndex.open(tmp_path)
    assert len(again) == 3 and again.info("s21").sha256 == "new"


def test_a_crash_mid_write_leaves_the_previous_index_intact(tmp_path, fps, monkeypatch):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    idx.add(fps[:2])
    manifest_before = (tmp_path / MANIFEST).read_text()

    def crash(*a, **k):
        raise KeyboardInterrupt("killed while writing")
    monkeypatch.setattr("matchers.index._write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        idx.add(fps[2:])
    monkeypatch.undo()
    assert json.loads((tmp_path / MANIFEST).read_text())["segments"] == json.loads(manifest_before)["segments"]
    again = FingerprintIndex.open(tmp_path)
    assert sorted(again.work_ids()) == ["s21", "s22"]
    again.add(fps[2:])   # the next write sweeps the orphaned segment
    assert sorted(FingerprintIndex.open(tmp_path).work_ids()) == ["s21", "s22", "s23"]
    live = set(json.loads((tmp_path / MANIFEST).read_text())["segments"])
    assert {p.name for p in tmp_path.iterdir() if p.is_dir()} == live


def test_empty_index_matches_nothing(tmp_path):
    idx = FingerprintIndex.open(tmp_path, DEFAULT, create=True)
    assert Matcher(idx).identify(song(1, 8.0)) == []
