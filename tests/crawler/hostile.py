"""A misbehaving platform on 127.0.0.1 for the failure-taxonomy tests: walls, loops, trickles.

Routes (``GET``): ``/media/<name>.wav`` a real WAV; ``/trickle/<name>.wav`` the same WAV a
few hundred bytes at a time; ``/endless.wav`` an audio stream that never ends; ``/page-as-video``
an HTML page sent as ``video/mp4``; ``/wall-as-video`` a bot-check page sent as ``video/mp4``;
``/loop`` a redirect to itself; ``/status/<code>`` that status (``Retry-After`` from
``retry_after``); ``/botwall`` a 200 page asking to prove you are human; ``/removed`` a 410;
``/feed.rss`` an RSS feed (yt-dlp's generic extractor reads it) of ``feed`` entries.
Every GET is counted by path in ``hits``.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from fixtures.music import SAMPLE_RATE, synthesize

BOT_WALL = (b"<!doctype html><html><head><title>Security check</title><script>var captcha=1</script></head>"
            b"<body><h1>Please verify you are human</h1><p>Slide to verify.</p></body></html>")


def wav_bytes(seed: int = 7, seconds: float = 4.0) -> bytes:
    import wave
    pcm = (np.clip(synthesize(seed, seconds), -1, 1) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return buf.getvalue()


class HostileSite:
    def __init__(self, *, trickle_bytes: int = 512, trickle_every_s: float = 0.1, retry_after: str = "3600"):
        self.hits: Counter = Counter()
        self.feed: list[str] = [f"/media/c{i}.wav" for i in range(12)]
        self.wav = wav_bytes()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", ctype="text/html", extra=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                outer.hits[path] += 1
                try:
                    self._route(path)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client hung up: what a cut download looks like from here

            do_HEAD = do_GET

            def _route(self, path):
                if path.startswith("/media/"):
                    return self._send(200, outer.wav, "audio/wav")
                if path.startswith("/trickle/"):
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", str(len(outer.wav)))
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    self.wfile.write(outer.wav[:1024])    # the head comes at once (yt-dlp sniffs it)
                    for i in range(1024, len(outer.wav), trickle_bytes):
                        time.sleep(trickle_every_s)
                        self.wfile.write(outer.wav[i:i + trickle_bytes])
                        self.wfile.flush()
                    return
                if path == "/endless.wav":
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    self.wfile.write(outer.wav[:44])
                    while True:                            # a 24/7 stream: never an end
                        self.wfile.write(outer.wav[44:44 + 16384])
                        self.wfile.flush()
                        time.sleep(0.05)
                if path == "/page-as-video":
                    return self._send(200, b"<!DOCTYPE html><html><head><title>Watch</title></head>"
                                           b"<body>our player</body></html>", "video/mp4")
                if path == "/wall-as-video":
                    return self._send(200, BOT_WALL, "video/mp4")
                if path == "/loop":
                    return self._send(302, b"", extra={"Location": "/loop"})
                if path.startswith("/status/"):
                    return self._send(int(path.rsplit("/", 1)[1]), b"<html><body>no</body></html>",
                                      extra={"Retry-After": retry_after})
                if path == "/feed.rss":
                    items = "".join(f"<item><title>clip {n}</title><link>{outer.url}{p}</link></item>"
                                    for n, p in enumerate(outer.feed))
                    return self._send(200, (f"<?xml version='1.0'?><rss version='2.0'><channel><title>feed"
                                            f"</title>{items}</channel></rss>").encode(), "application/rss+xml")
                if path == "/botwall":
                    return self._send(200, BOT_WALL)
                if path == "/removed":
                    return self._send(410, b"<html><title>Gone</title><body>This video has been removed</body></html>")
                return self._send(404, b"<html><body>not found</body></html>")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass   # a client hanging up mid-request is part of these tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
