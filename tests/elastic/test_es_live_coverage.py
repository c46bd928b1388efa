"""The mirror carries live coverage: one document per period of watching one room (family
``live_coverage``: programme heard, windows, plays detected, last hit), with an explicit mapping, so
Kibana can chart rooms watched and heard over time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from earwitness.app.elastic import sync as es_sync


class _Room:
    platform, room_id, url, title = "fixture", "room808", "http://127.0.0.1:1/live/room/room808", "radio marathon"


def test_watch_periods_reach_the_mirror_with_their_mapping(store, search_server):
    from crawler.live_store import record_period
    t0 = datetime(2026, 12, 1, 4, 0, tzinfo=timezone.utc)
    hit = (t0 + timedelta(minutes=7)).timestamp()
    record_period(store, _Room(), {"audio_s": 598.4, "windows": 59, "outcomes": [],
                                   "sightings": [{"start_epoch": hit - 300}, {"start_epoch": hit}]},
                  started=t0, ended=t0 + timedelta(minutes=10))
    record_period(store, _Room(), {"audio_s": 6.0, "windows": 0, "sightings": [],
                                   "outcomes": [{"outcome": "offline", "reason": "stream_ended", "at": 0}]},
                  started=t0 + timedelta(minutes=10), ended=t0 + timedelta(minutes=20))
    es = search_server.client()
    result = es_sync.sync(store, es, cfg=search_server.cfg())
    assert result.by_family == {"live_coverage": 2} and result.failed == 0 and result.remaining == 0
    alias = f"{search_server.prefix}-live_coverage"
    hits = es.search(index=alias, query={"term": {"outcome": "ok"}})["hits"]["hits"]
    assert len(hits) == 1
    src = hits[0]["_source"]
    assert src["room_id"] == "room808" and src["heard_s"] == 598.4 and src["windows"] == 59 and src["plays"] == 2
    assert src["last_hit_at"].startswith("2026-12-01T04:07:00") and src["period_end"].startswith("2026-12-01T04:10")
    off = es.search(index=alias, query={"term": {"outcome": "offline"}})["hits"]["hits"][0]["_source"]
    assert off["reason"] == "stream_ended" and off["plays"] == 0 and off["last_hit_at"] is None
    props = next(iter(es.indices.get_mapping(index=alias).body.values()))["mappings"]["properties"]
    assert props["heard_s"]["type"] == "double" and props["last_hit_at"]["type"] == "date"
    assert props["room_id"]["type"] == "keyword" and props["plays"]["type"] == "integer"
