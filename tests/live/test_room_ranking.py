"""Ranking and rotation of rooms found by search (crawler/rooms.py): hits first, then music, then viewers;
rooms watched lately yield their slot unless they had a hit; viewer counts as platforms print them."""

from datetime import datetime, timedelta, timezone

from crawler.frontier import Found

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
MUSIC = ["music", "音乐"]


def _room(rid: str, viewers: int, category: str) -> Found:
    return Found(rid, f"https://live.example/{rid}", "q", None, {"view_count": viewers, "category": category})


def _order(found, recent=None, rotate_min=60.0):
    from crawler.rooms import rank_rooms
    return [f.media_id for f in rank_rooms(found, recent=recent or {}, music_categories=MUSIC,
                                           rotate_min=rotate_min, now=NOW)]


def test_music_rooms_before_others_then_by_viewers():
    found = [_room("game", 90_000, "王者荣耀"), _room("small", 10, "Music"), _room("big", 5_000, "音乐")]
    assert _order(found) == ["big", "small", "game"]


def test_a_room_with_a_hit_in_the_last_day_comes_first():
    found = [_room("big", 5_000, "music"), _room("hot", 3, "talk")]
    recent = {"https://live.example/hot": {"last_window_at": NOW - timedelta(minutes=5),
                                           "last_hit_at": NOW - timedelta(hours=3)}}
    assert _order(found, recent) == ["hot", "big"]
    recent["https://live.example/hot"]["last_hit_at"] = NOW - timedelta(hours=30)   # older than a day
    assert _order(found, recent) == ["big", "hot"]


def test_rooms_watched_lately_rotate_behind_the_rest():
    found = [_room("a", 900, "music"), _room("b", 800, "music"), _room("c", 700, "music")]
    recent = {"https://live.example/a": {"last_window_at": NOW - timedelta(minutes=20), "last_hit_at": None},
              "https://live.example/b": {"last_window_at": NOW - timedelta(minutes=90), "last_hit_at": None}}
    assert _order(found, recent) == ["b", "c", "a"]           # a was watched 20 min ago: it waits its turn
    assert _order(found, recent, rotate_min=10) == ["a", "b", "c"]


def test_viewer_counts_as_printed():
    from crawler.rooms import _count
    assert [_count(v) for v in (8812, "8812", "2.4万", "12.6万", "1.2k", "1,024", "n/a")] == \
        [8812, 8812, 24000, 126000, 1200, 1024, None]
