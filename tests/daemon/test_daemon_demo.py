"""``earwitness demo`` end to end in a fresh data home, mirrored into a real search server. Slow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ELASTIC_TESTS = ROOT / "tests" / "elastic"


def test_demo_runs_everything_once_and_reports(tmp_path):
    from osmem_server import OsmemServer
    from fixtures.build import build
    platform_root = build(Path(os.environ.get("EARWITNESS_TEST_PLATFORM",
                                              Path(tempfile.gettempdir()) / "earwitness-test-fixture-platform")))
    home = tmp_path / "home"
    with OsmemServer.start(japanese=False) as es:
        env = dict(os.environ, EARWITNESS_HOME=str(home),
                   EARWITNESS__FIXTURES__ROOT=str(platform_root),      # reuse the cached build
                   EARWITNESS__ELASTICSEARCH__URL=es.url,
                   EARWITNESS__ELASTICSEARCH__NODE_CLASS="plainjson_node.PlainJsonNode",
                   PYTHONPATH=os.pathsep.join([str(ELASTIC_TESTS), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, "-m", "earwitness.app.cli", "demo", "--no-live"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        out = proc.stdout
        assert proc.returncode == 0, out + proc.stderr[-3000:]
        for step in ("importing the catalog", "fixture platform serving at http://127.0.0.1:",
                     "job crawl:fixture: ok", "job match: ok", "job evidence:", "job drafting:",
                     "job recheck:", "job es_sync: ok"):
            assert step in out, (step, out)
        assert "job live" not in out                                  # --no-live
        detections = int(re.search(r"detections: (\d+)", out).group(1))
        works = int(re.search(r"works in the catalog: (\d+)", out).group(1))
        assert works == 12 and detections >= 8
        assert re.search(r"cases: \d+", out)
        assert f"media: " in out and str(home) in out
        line = re.search(r"job es_sync: ok .*", out).group(0)
        assert int(re.search(r"sent=(\d+)", line).group(1)) > detections and "failed=0" in line, line
        import urllib.request, json
        count = json.load(urllib.request.urlopen(f"{es.url}/earwitness-detections/_count"))["count"]
        assert count == detections
