"""The mirror carries the crawler canary's rows: one document per check of one site (family
``site_checks``), with an explicit mapping, so Kibana can filter and chart sites by state."""

from __future__ import annotations

from datetime import datetime, timezone

from earwitness.app.elastic import sync as es_sync


def test_canary_rows_reach_the_mirror_with_their_mapping(store, search_server):
    from crawler import canary
    from crawler.canary import SiteCheck
    canary.record(store, [SiteCheck("fixture", "ok", "search ok; item ok", "2026-11-30T06:00:00+00:00"),
                          SiteCheck("shortvideo", "needs_login", "search: needs_login (login_expired)",
                                    "2026-11-30T06:00:05+00:00")])
    es = search_server.client()
    result = es_sync.sync(store, es, cfg=search_server.cfg())
    assert result.by_family == {"site_checks": 2} and result.failed == 0 and result.remaining == 0
    alias = f"{search_server.prefix}-site_checks"
    hits = es.search(index=alias, query={"term": {"state": "needs_login"}})["hits"]["hits"]
    assert [h["_source"]["site"] for h in hits] == ["shortvideo"]
    src = hits[0]["_source"]
    assert src["reason"].startswith("search: needs_login") and src["checked_at"].startswith("2026-11-30T06:00:05")
    mapping = es.indices.get_mapping(index=alias).body
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["state"]["type"] == "keyword" and props["checked_at"]["type"] == "date"
    # the next daily check adds a document (history), it does not overwrite the last one
    canary.record(store, [SiteCheck("shortvideo", "ok", "search ok", datetime.now(timezone.utc).isoformat())])
    assert es_sync.sync(store, es, cfg=search_server.cfg()).by_family == {"site_checks": 1}
    assert es.count(index=alias, query={"term": {"site": "shortvideo"}})["count"] == 2
