"""Replayed platform answers for yt-dlp's own extractors: a yt-dlp request handler (its transport)
that answers from recordings in ``tests/crawler/replays/<platform>/routes.json`` and refuses
every other request, so a test runs the real extractor code without any network.

``routes.json``: a list of ``{"method", "url" (a regex searched in the full URL), "data" (optional:
a regex searched in the request body), "status", "headers", "body" (inline text or JSON) |
"body_file"}``; the first route that matches answers.
Every request is logged in :attr:`Replay.log` (method, URL) for the tests to check.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import contextmanager
from pathlib import Path

REPLAYS = Path(__file__).parent / "replays"


class Replay:
    def __init__(self, *platforms: str) -> None:
        self.routes: list[dict] = []
        for name in platforms:
            folder = REPLAYS / name
            for route in json.loads((folder / "routes.json").read_text(encoding="utf-8")):
                if "body_file" in route:
                    route["body_bytes"] = (folder / route["body_file"]).read_bytes()
                elif isinstance(route.get("body"), (dict, list)):
                    route["body_bytes"] = json.dumps(route["body"]).encode()
                else:
                    route["body_bytes"] = str(route.get("body", "")).encode()
                self.routes.append(route)
        self.log: list[tuple[str, str]] = []
        self.unmatched: list[tuple[str, str]] = []

    def answer(self, method: str, url: str, data: bytes = b""):
        self.log.append((method, url))
        body = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        for route in self.routes:
            if route.get("method", "GET") == method and re.search(route["url"], url) \
                    and re.search(route.get("data", ""), body):
                return route
        self.unmatched.append((method, url))
        return None


def handler_class(replay: Replay):
    from yt_dlp.networking import Response
    from yt_dlp.networking.common import RequestHandler
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    class ReplayRH(RequestHandler):
        _SUPPORTED_URL_SCHEMES = ("http", "https")
        _SUPPORTED_PROXY_SCHEMES = None
        _SUPPORTED_FEATURES = None
        _SUPPORTED_ENCODINGS = None

        def _check_extensions(self, extensions):
            extensions.clear()   # timeouts, cookie jars, impersonation: nothing to do on a replay

        def _send(self, request):
            route = replay.answer(request.method, request.url, request.data or b"")
            if route is None:
                raise TransportError(cause=ConnectionRefusedError(f"no recording for {request.method} {request.url}"))
            headers = {"Content-Type": "application/json; charset=utf-8", **route.get("headers", {})}
            resp = Response(io.BytesIO(route["body_bytes"]), request.url, headers, status=route.get("status", 200))
            if resp.status >= 400:
                raise HTTPError(resp)
            return resp

    return ReplayRH


@contextmanager
def replayed(monkeypatch, *platforms: str):
    """Every YoutubeDL made inside answers from the recordings of ``platforms`` (and nothing else)."""
    import yt_dlp
    replay = Replay(*platforms)
    rh = handler_class(replay)
    original = yt_dlp.YoutubeDL.build_request_director

    def build(self, handlers, preferences=None):
        return original(self, [rh], preferences)

    monkeypatch.setattr(yt_dlp.YoutubeDL, "build_request_director", build)
    yield replay
