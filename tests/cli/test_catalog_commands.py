"""Catalog and match commands as the issue found them: add that clobbered fields, remove that half-ran,
aliases split silently, scores nobody could read."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from earwitness.app.cli import main
from fixtures.music import synthesize, write_wav


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "velvet.wav", synthesize(3, 20.0))


def work(store, work_id):
    from earwitness.kernel.store.models import Work
    with store.session() as s:
        w = s.get(Work, work_id)
        return {"title": w.title, "artist": w.artist, "owner": w.owner, "isrc": w.isrc, "aliases": w.aliases}


def test_add_on_an_existing_id_changes_only_what_is_given_and_says_what(store, song):
    res = run("catalog", "add", str(song), "--id", "v1", "--title", "Velvet", "--artist", "Lin", "--owner", "Label A")
    assert res.exit_code == 0 and res.stdout.startswith("v1: added"), res.output
    res = run("catalog", "add", str(song), "--id", "v1", "--title", "Velvet Morning")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "v1: changed title 'Velvet' -> 'Velvet Morning'"
    assert work(store, "v1") == {"title": "Velvet Morning", "artist": "Lin", "owner": "Label A", "isrc": None,
                                 "aliases": []}
    res = run("catalog", "add", str(song), "--id", "v1")
    assert res.exit_code == 0 and res.stdout.strip() == "v1: unchanged"
    res = run("catalog", "add", str(song), "--id", "new-one")
    assert res.exit_code == 2 and "give --title and --artist" in res.output


def test_remove_checks_every_id_before_removing_any(store, song):
    assert run("catalog", "add", str(song), "--id", "a", "--title", "T", "--artist", "A").exit_code == 0
    res = run("catalog", "remove", "a", "nosuch")
    assert res.exit_code == 1 and "'nosuch'" in res.output and "nothing was removed" in res.output
    assert [w["id"] for w in json.loads(run("catalog", "list", "--json").stdout)] == ["a"]
    res = run("catalog", "remove", "a", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == [
        {"work_id": "a", "removed_from_index": True, "kept_record": False}]


def test_catalog_list_has_headers_ids_json_and_csv(store, song):
    assert run("catalog", "add", str(song), "--id", "v1", "--title", "Velvet", "--artist", "Lin").exit_code == 0
    table = run("catalog", "list")
    header, line = table.stdout.splitlines()
    assert header.split() == ["ID", "TITLE", "ARTIST", "DURATION", "INDEXED"]
    assert line.split()[:3] == ["v1", "Velvet", "Lin"] and line.split()[-1] == "yes"
    assert "1 works" in table.stderr
    [row] = json.loads(run("catalog", "list", "--json").stdout)
    assert row["id"] == "v1" and row["indexed"] is True
    rows = list(csv.DictReader(run("catalog", "list", "--format", "csv").stdout.splitlines()))
    assert rows[0]["id"] == "v1" and rows[0]["title"] == "Velvet" and rows[0]["indexed"] == "True"


def test_manifest_aliases_use_a_bar_and_a_semicolon_is_pointed_out(store, song, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"track_id,path,title,artist,aliases\nv1,{song.name},Velvet,Lin,Velours;Samt\n")
    res = run("catalog", "import", str(manifest))
    assert res.exit_code == 0, res.output
    assert "alias 'Velours;Samt' is one alias; separate aliases with '|'" in res.stderr
    manifest.write_text(f"track_id,path,title,artist,aliases\nv1,{song.name},Velvet,Lin,Velours|Samt\n")
    res = run("catalog", "import", str(manifest))
    assert res.exit_code == 0 and "note:" not in res.stderr
    assert work(store, "v1")["aliases"] == ["Velours", "Samt"]


def test_match_names_the_work_and_explains_the_score(store, song, tmp_path):
    import soundfile
    assert run("catalog", "add", str(song), "--id", "v1", "--title", "Velvet", "--artist", "Lin").exit_code == 0
    audio, sr = soundfile.read(song)
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, audio[4 * sr:14 * sr], sr)
    res = run("match", str(clip))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == f"{clip}: Velvet — Lin [v1]"
    assert lines[1].startswith("  score ") and "(threshold 11)" in lines[1] and "peaks line up with the work" in lines[1]
    assert lines[2].startswith("  the clip starts 4.0") and "s into the work" in lines[2], lines[2]
    assert "-0.00" not in res.stdout
    assert "-log10 of the chance" in res.stderr and "11 or more is reported" in res.stderr
    doc = json.loads(run("match", "--json", str(clip)).stdout)
    assert doc["match"]["title"] == "Velvet" and doc["match"]["artist"] == "Lin" and doc["match"]["threshold"] == 11.0
    assert doc["match"]["score_capped"] is (doc["match"]["score"] >= 1000)
