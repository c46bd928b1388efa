"""Capture and buffer units: playlists and their ads, bounded reads, the rolling buffer (no network)."""

import io
import time

import numpy as np
import pytest

from crawler.buffer import RoomBuffer
from crawler.capture import StreamEnded, parse_playlist, protocol_of, read_bounded

TWITCH_LIKE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:00.000Z
#EXTINF:2.000,live
seg40.ts
#EXT-X-DISCONTINUITY
#EXT-X-DATERANGE:ID="stitched-ad-1",CLASS="twitch-stitched-ad",START-DATE="2026-12-01T00:00:02.000Z",DURATION=4.000
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:02.000Z
#EXTINF:2.000,Amazon
ad000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:04.000Z
#EXTINF:2.000,Amazon
ad001.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T00:00:06.000Z
#EXTINF:2.000,live
seg43.ts
#EXT-X-CUE-OUT:DURATION=2
#EXTINF:2.000,
spot.ts
#EXT-X-CUE-IN
#EXTINF:2.000,
seg45.ts
"""


def test_playlist_ads_are_told_apart_from_the_programme():
    pl = parse_playlist(TWITCH_LIKE)
    assert [(s.seq, s.uri, s.ad) for s in pl.segments] == [
        (40, "seg40.ts", False), (41, "ad000.ts", True), (42, "ad001.ts", True), (43, "seg43.ts", False),
        (44, "spot.ts", True), (45, "seg45.ts", False)]
    assert pl.segments[1].discontinuity and pl.segments[3].discontinuity
    assert pl.segments[3].pdt - pl.segments[0].pdt == pytest.approx(6.0)
    assert not pl.ended


def test_not_a_playlist_is_broken_not_empty():
    with pytest.raises(StreamEnded) as err:
        parse_playlist("FLV\x01\x05 binary")
    assert err.value.kind == "broken"


@pytest.mark.parametrize("url, hint, expected", [
    ("http://x/live/flv/room.flv?sign=1", None, "flv"), ("http://x/a/index.m3u8?token=2", None, "hls"),
    ("http://x/manifest.mpd", None, "dash"), ("http://x/stream", "m3u8_native", "hls"),
    ("http://x/stream", "http_dash_segments", "dash"), ("http://x/stream", "flv", "flv"),
    ("http://x/stream", "https", "ffmpeg")])
def test_protocol_from_format_or_url(url, hint, expected):
    assert protocol_of(url, hint) == expected


class _Endless(io.RawIOBase):
    """A body that never ends (an HTTP-FLV stream), optionally trickling."""

    def __init__(self, step=4096, pause=0.0):
        self.step, self.pause = step, pause

    def read1(self, n=-1):
        if self.pause:
            time.sleep(self.pause)
        return b"x" * self.step


def test_an_endless_body_is_cut_by_bytes_and_by_time():
    with pytest.raises(StreamEnded) as err:
        read_bounded(_Endless(), max_bytes=100_000, deadline=time.monotonic() + 30, what="endless")
    assert err.value.reason == "byte_limit" and err.value.kind == "transient"
    t0 = time.monotonic()
    with pytest.raises(StreamEnded) as err:
        read_bounded(_Endless(step=10, pause=0.05), max_bytes=10**9, deadline=time.monotonic() + 1, what="trickle")
    assert err.value.reason == "time_limit" and time.monotonic() - t0 < 1.5


def test_rolling_buffer_is_bounded_and_cuts_across_gaps(tmp_path):
    sr = 1000
    buf = RoomBuffer(tmp_path / "room", sample_rate=sr, keep_s=30)
    t = 1_000_000.0
    for i in range(10):                                   # 10 chunks of 10 s; a 2 s gap after chunk 4
        start = t + i * 10 + (2 if i >= 5 else 0)
        buf.append(start, np.full(10 * sr, i + 1, dtype="<i2"))
    assert buf.bytes_on_disk() <= (30 + 10) * sr * 2, "no more than keep_s plus one chunk"
    assert len(list((tmp_path / "room").glob("*.pcm"))) <= 4
    assert buf.end == pytest.approx(t + 102)
    start, x = buf.cut(t + 85, t + 95)
    assert start == t + 85 and len(x) == 10 * sr
    assert set(x[:sr * 7]) == {9} and set(x[sr * 7:]) == {10}
    start, x = buf.cut(t, t + 1000)                       # clipped to what is held
    assert start >= t + 62 and start + len(x) / sr == pytest.approx(t + 102)
    buf2 = RoomBuffer(tmp_path / "gap", sample_rate=sr, keep_s=100)
    buf2.append(t, np.full(5 * sr, 7, dtype="<i2"))
    buf2.append(t + 8, np.full(5 * sr, 9, dtype="<i2"))   # 3 s of nothing on air for us (an ad skipped)
    _, x = buf2.cut(t, t + 13)
    assert set(x[:5 * sr]) == {7} and set(x[5 * sr:8 * sr]) == {0} and set(x[8 * sr:]) == {9}
    buf.close()
    assert not (tmp_path / "room").exists()
