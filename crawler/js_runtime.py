"""A ``phantomjs`` for yt-dlp where PhantomJS itself is missing (Douyu signs its stream API with page JS).

yt-dlp's Douyu extractor runs the room page's own signing function (``ub98484234``) with CryptoJS
through ``PhantomJSwrapper.execute``, which starts an executable named ``phantomjs`` from PATH.
PhantomJS is unmaintained and no longer packaged (Debian dropped it); what yt-dlp uses of it here
is only its script runner, which ``jsruntime/phantom_on_node.js`` provides on Node.js. A real
``phantomjs`` on PATH always wins; without either, yt-dlp's own "PhantomJS not found" error stands.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SHIM_DIR = Path(__file__).with_name("jsruntime")


def ensure_phantomjs() -> str | None:
    """The ``phantomjs`` yt-dlp will start: the installed one, else the Node.js runner put on PATH
    (for this process and its children); None when neither PhantomJS nor Node.js is installed."""
    found = shutil.which("phantomjs")
    if found or not shutil.which("node"):
        return found
    shim = SHIM_DIR / "phantomjs"
    if not os.access(shim, os.X_OK):          # an install that dropped the executable bit
        try:
            shim.chmod(0o755)
        except OSError:
            return None
    os.environ["PATH"] = f"{SHIM_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    return shutil.which("phantomjs")
