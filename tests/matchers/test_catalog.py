"""Catalog commands: idempotent import, add, remove (really gone), an interrupted import resumes."""

import json

import pytest
from click.testing import CliRunner

from earwitness.app.catalog import import_manifest, open_index
from earwitness.app.cli import main
from fixtures.music import demo_songs, write_catalog
import matchers.catalog


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory):
    return write_catalog(tmp_path_factory.mktemp("cat"), demo_songs(4, duration_s=20.0))


def test_reimport_is_idempotent(home, demo_catalog):
    runner = CliRunner()
    first = runner.invoke(main, ["catalog", "import", str(demo_catalog)])
    assert first.exit_code == 0 and "4 added" in first.output
    second = runner.invoke(main, ["catalog", "import", str(demo_catalog)])
    assert second.exit_code == 0 and "4 unchanged" in second.output
    stats = json.loads(runner.invoke(main, ["catalog", "stats", "--json"]).stdout)
    assert stats["works"] == 4 and stats["segments"] == 1


def test_remove_takes_the_work_out_of_index_and_table(home, demo_catalog):
    runner = CliRunner()
    runner.invoke(main, ["catalog", "import", str(demo_catalog)])
    hashes_before = open_index().stats()["hashes"]
    result = runner.invoke(main, ["catalog", "remove", "demo002"])
    assert result.exit_code == 0
    index = open_index()
    assert "demo002" not in index and index.stats()["hashes"] < hashes_before
    listed = [w["id"] for w in json.loads(runner.invoke(main, ["catalog", "list", "--json"]).stdout)]
    assert listed == ["demo001", "demo003", "demo004"]
    assert runner.invoke(main, ["catalog", "remove", "nope"]).exit_code != 0


def test_an_interrupted_import_keeps_finished_batches_and_resumes(home, store, demo_catalog, monkeypatch):
    monkeypatch.setattr(matchers.catalog, "BATCH_AUDIO_S", 1.0)   # one segment per work
    seen = []

    def die_after_two(outcome):
        seen.append(outcome.entry.track_id)
        if len(seen) == 2:
            raise KeyboardInterrupt("killed")
    with pytest.raises(KeyboardInterrupt):
        import_manifest(store, demo_catalog, progress=die_after_two)
    index = open_index()
    assert sorted(index.work_ids()) == ["demo001", "demo002"]
    outcomes = import_manifest(store, demo_catalog)
    assert [o.status for o in outcomes] == ["unchanged", "unchanged", "added", "added"]
    assert len(open_index()) == 4
