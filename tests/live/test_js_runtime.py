"""The Node.js ``phantomjs`` (crawler/jsruntime) runs what yt-dlp's PhantomJSwrapper.execute runs for
Douyu: CryptoJS plus the page's signing function, printing its answer; anything it does not support
fails loudly (exit status and message), never with empty output taken for a result."""

import hashlib
import subprocess
from pathlib import Path

REPLAYS = Path(__file__).parent / "replays"


def _phantomjs(monkeypatch):
    from crawler import js_runtime
    monkeypatch.setenv("PATH", "/usr/bin:/bin")               # no PhantomJS installed here
    exe = js_runtime.ensure_phantomjs()
    assert exe and Path(exe).parent == js_runtime.SHIM_DIR
    return exe


def test_runs_the_signing_script_as_yt_dlp_does(monkeypatch, tmp_path):
    from yt_dlp.extractor.openload import PhantomJSwrapper
    exe = _phantomjs(monkeypatch)
    assert subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.strip() == "2.1.1"
    sign = ('var v="220120260915";function ub98484234(a,b,c){return "v="+v+"&did="+b+"&tt="+c'
            '+"&sign="+CryptoJS.MD5(a+b+c+v).toString();}')
    script = tmp_path / "s.js"
    # the script yt-dlp writes: its base (phantom.onError), the code, then phantom.exit()
    script.write_text(PhantomJSwrapper._BASE_JS + (REPLAYS / "douyu/crypto-js-md5.js").read_text() + ";" + sign
                      + ';console.log(ub98484234("9999","abc","123"));\nphantom.exit();')
    out = subprocess.run([exe, "--ssl-protocol=any", str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    expected = hashlib.md5(b"9999abc123220120260915").hexdigest()
    assert out.stdout.strip() == f"v=220120260915&did=abc&tt=123&sign={expected}"


def test_unsupported_pages_and_script_errors_fail_loudly(monkeypatch, tmp_path):
    exe = _phantomjs(monkeypatch)
    page = tmp_path / "page.js"
    page.write_text("var page = require('webpage').create(); phantom.exit();")
    out = subprocess.run([exe, str(page)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "webpage" in out.stderr and not out.stdout
    broken = tmp_path / "broken.js"
    broken.write_text("console.log(undefinedThing.x);")
    out = subprocess.run([exe, str(broken)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "undefinedThing" in out.stderr and not out.stdout
