"""The truth is achievable: the real matcher, given the platform's catalog, finds what truth.json says."""

import json

import pytest
from click.testing import CliRunner

from earwitness.app.cli import main

pytestmark = pytest.mark.slow


def test_real_matcher_agrees_with_the_truth(platform_root, home):
    truth = json.loads((platform_root / "truth.json").read_text(encoding="utf-8"))
    runner = CliRunner()
    result = runner.invoke(main, ["--home", str(home), "catalog", "import",
                                  str(platform_root / truth["catalog_manifest"])])
    assert result.exit_code == 0, result.output
    files = {str(platform_root / "media" / v["formats"][0]["file"]): v for v in truth["videos"]}
    result = runner.invoke(main, ["--home", str(home), "match", "--json", *files])
    assert result.exit_code == 0, result.output
    got = {}
    for line in result.output.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            got[r["file"]] = r["match"]["work_id"] if r["match"] else None
    assert set(got) == set(files)
    wrong = {v["id"]: (v["disguise"], v["track_id"], got[f]) for f, v in files.items()
             if got[f] != v["track_id"]}
    # catalog music (also the licensed and removed uploads' media) is found; the rest is not
    assert wrong == {}
