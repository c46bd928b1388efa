"""The Live page: rooms watched with their programme heard, share of airtime and last hit, per site, and
the latest watch periods with how each ended; a bad period is a clear 400."""

from datetime import timedelta


def _window(store, platform, room, start, seconds, *, hit=False):
    from earwitness.kernel.store.models import Clip, Detection, Work
    with store.session() as s:
        clip = Clip(platform=platform, url=f"https://{platform}.example/{room}", media_id=f"{room}@{start.isoformat()}",
                    is_live=True, live_window_start=start, live_window_end=start + timedelta(seconds=seconds),
                    status="matched", extra={"room_id": room})
        s.add(clip)
        s.flush()
        if hit:
            if s.get(Work, "w1") is None:
                s.add(Work(id="w1", title="A Song", artist="Someone"))
                s.flush()
            s.add(Detection(clip_id=clip.id, work_id="w1", clip_offset_s=0, ref_offset_s=0, duration_s=10, score=20,
                            pitch_semitones=0, tempo_ratio=1, matcher_version="t"))


def test_live_page_shows_rooms_heard_their_last_hit_and_watch_periods(client, users, store):
    from crawler.live_store import record_period
    from earwitness.kernel.store.models import utcnow
    now = utcnow()
    _window(store, "huya", "660000", now - timedelta(hours=2), 864, hit=True)
    _window(store, "douyu", "9999", now - timedelta(hours=1), 20)

    class Room:
        platform, room_id, url, title = "huya", "660000", "https://huya.example/660000", "今晚点歌"
    record_period(store, Room(), {"audio_s": 600, "windows": 59, "sightings": [], "outcomes": [
        {"outcome": "transient", "reason": "stalled", "at": 0}]}, started=now - timedelta(minutes=10), ended=now)
    client.login("ann", users["ann"])
    page = client.get("/live/")
    assert page.status == 200, page.text
    html = page.text
    assert 'data-room="huya/660000"' in html and "864 s" in html and "1.00 %" in html
    assert 'data-room="douyu/9999"' in html and "20 s" in html
    row = html.split('id="live-rooms"')[1].split('data-room="douyu/9999"')[1].split("</tr>")[0]
    assert ">none<" in row                                              # no hit in that room
    periods = html.split('id="live-periods"')[1]
    assert 'data-outcome="transient"' in periods and "(stalled)" in periods and "今晚点歌" in periods
    assert 'id="nav-live"' in html
    assert client.get("/live/?hours=abc").status == 400


def test_live_page_needs_a_login(client, users):
    assert client.get("/live/").status in (302, 303)
