"""The outbox drains into a real search server: once per record, versioned, refreshed, resumable."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

import plainjson_node
from earwitness.app.elastic import ElasticUnavailable, NotConfigured
from earwitness.app.elastic import sync as es_sync
from earwitness.kernel.store.models import Clip, Detection, OutboxEntry, Work


def add_records(store, n: int, *, tag: str = "a") -> list[str]:
    """n works, each with one clip and one detection; returns the detection ids."""
    ids = []
    with store.session() as s:
        for i in range(n):
            work = Work(id=f"W{tag}{i}", title=f"晴天 Sunny Day {tag}{i}", artist="周杰伦 Jay Chou",
                        owner="Label", aliases=[])
            clip = Clip(platform="fixture", url=f"http://x/{tag}{i}", media_id=f"{tag}{i}",
                        uploader="someone", published_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
            s.add_all([work, clip])
            s.flush()
            det = Detection(clip_id=clip.id, work_id=work.id, clip_offset_s=0.0, ref_offset_s=12.5,
                            duration_s=10.0, score=42.0, pitch_semitones=0.0, tempo_ratio=1.0,
                            matcher_version="t1")
            s.add(det)
            s.flush()
            ids.append(det.id)
    return ids


def outbox_rows(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEntry))


def test_sync_indexes_every_record_once_with_enrichment(store, search_server):
    det_ids = add_records(store, 3)
    es = search_server.client()
    plainjson_node.SENT.clear()
    result = es_sync.sync(store, es, cfg=search_server.cfg())
    assert outbox_rows(store) == 0 and result.remaining == 0 and result.failed == 0
    assert result.by_family == {"works": 3, "clips": 3, "detections": 3}
    p = search_server.prefix
    # explicit refresh of the written indices, after the bulk writes
    if not search_server.real:
        paths = [t for _, t in plainjson_node.SENT]
        refreshes = [i for i, t in enumerate(paths) if "/_refresh" in t]
        bulks = [i for i, t in enumerate(paths) if "_bulk" in t]
        assert refreshes and bulks and refreshes[-1] > bulks[-1]
        assert f"{p}-detections-v1" in paths[refreshes[-1]]
    for fam in ("works", "clips", "detections"):
        assert es.count(index=f"{p}-{fam}")["count"] == 3
    doc = es.get(index=f"{p}-detections", id=det_ids[0])
    assert doc["_index"] == f"{p}-detections-v1"
    src = doc["_source"]
    assert src["work_title"].startswith("晴天") and src["platform"] == "fixture"
    assert src["clip_url"].startswith("http://x/") and src["published_at"].startswith("2026-11-01")
    # a second run has nothing to send
    again = es_sync.sync(store, es, cfg=search_server.cfg())
    assert again.sent == 0 and again.batches == 0


def test_titles_searchable_in_chinese_and_english(store, search_server):
    add_records(store, 2)
    es = search_server.client()
    es_sync.sync(store, es, cfg=search_server.cfg())
    idx = f"{search_server.prefix}-detections"
    zh = es.search(index=idx, query={"match": {"work_title.cjk": "晴天"}})
    en = es.search(index=idx, query={"match": {"work_title": "sunny"}})
    kw = es.search(index=idx, query={"term": {"work_title.raw": "晴天 Sunny Day a1"}})
    assert zh["hits"]["total"]["value"] == 2 and en["hits"]["total"]["value"] == 2
    assert kw["hits"]["total"]["value"] == 1
    aggs = es.search(index=idx, size=0, aggs={"p": {"terms": {"field": "platform"}}})
    assert aggs["aggregations"]["p"]["buckets"][0] == {"key": "fixture", "doc_count": 2}


def test_changes_and_deletes_follow_and_dependents_refresh(store, search_server):
    det_ids = add_records(store, 2)
    es = search_server.client()
    cfg = search_server.cfg()
    es_sync.sync(store, es, cfg=cfg)
    p = search_server.prefix
    with store.session() as s:
        s.get(Work, "Wa0").title = "稻香 Rice Field"            # embedded in a detection
        det = s.get(Detection, det_ids[1])
        det.review_state = "confirmed"
        det.review_state = "rejected"                          # two changes, one write
    with store.session() as s:
        s.delete(s.get(Detection, det_ids[1]))
    res = es_sync.sync(store, es, cfg=cfg)
    assert res.failed == 0 and outbox_rows(store) == 0
    assert es.get(index=f"{p}-works", id="Wa0")["_source"]["title"] == "稻香 Rice Field"
    assert es.get(index=f"{p}-detections", id=det_ids[0])["_source"]["work_title"] == "稻香 Rice Field"
    assert es.options(ignore_status=404).get(index=f"{p}-detections", id=det_ids[1])["found"] is False
    assert es.count(index=f"{p}-detections")["count"] == 1


def test_non_finite_score_is_indexed_as_null(store, search_server):
    det_ids = add_records(store, 1)
    with store.session() as s:
        s.get(Detection, det_ids[0]).score = float("inf")
    es = search_server.client()
    res = es_sync.sync(store, es, cfg=search_server.cfg())
    assert res.failed == 0 and outbox_rows(store) == 0
    src = es.get(index=f"{search_server.prefix}-detections", id=det_ids[0])["_source"]
    assert src["score"] is None and src["nonfinite"] == {"score": "inf"}


def test_stale_write_never_overwrites_newer(store, search_server):
    """External versions: a late resend of an old state is refused and counted as done."""
    add_records(store, 1)
    es = search_server.client()
    cfg = search_server.cfg()
    es_sync.sync(store, es, cfg=cfg)
    idx = f"{search_server.prefix}-works-v1"
    current = es.get(index=idx, id="Wa0")["_version"]
    stale = es_sync._bulk(es_sync.Mirror(es, cfg), [{
        "_op_type": "index", "_index": idx, "_id": "Wa0", "_source": {"id": "Wa0", "title": "old"},
        "version": current - 1, "version_type": "external"}])
    assert stale[0]["status"] == 409 and es_sync._acknowledged(stale[0], "index")
    assert es.get(index=idx, id="Wa0")["_source"]["title"].startswith("晴天")


def test_server_down_for_a_whole_cycle_then_back(store, search_server):
    if search_server.real:
        pytest.skip("cannot stop an external cluster")
    cfg = search_server.cfg()
    add_records(store, 2, tag="early")
    search_server.stop()
    det_ids = add_records(store, 5, tag="down")
    before = outbox_rows(store)
    with pytest.raises(ElasticUnavailable):
        es_sync.sync(store, search_server.client(), cfg=cfg)
    assert outbox_rows(store) == before                        # nothing lost
    with store.session() as s:
        assert s.scalar(select(func.max(OutboxEntry.attempts))) >= 1
        assert "Connection" in (s.scalar(select(OutboxEntry.last_error).limit(1)) or "")
    summary = es_sync.outbox_summary(store)
    assert summary["total"] == before and summary["last_error"]
    search_server.start()                                      # same address, empty server
    es = search_server.client()
    res = es_sync.sync(store, es, cfg=cfg)
    assert res.failed == 0 and outbox_rows(store) == 0
    p = search_server.prefix
    for fam in ("works", "clips", "detections"):
        assert es.count(index=f"{p}-{fam}")["count"] == 7
    # every record arrived, once: one document per record id
    hits = es.search(index=f"{p}-detections", size=100)["hits"]["hits"]
    assert len(hits) == 7 and set(det_ids) <= {h["_id"] for h in hits}
    assert es_sync.sync(store, es, cfg=cfg).sent == 0


def test_refused_document_is_kept_and_others_proceed(store, search_server):
    """A mapping conflict refuses one family's documents; their rows stay with the reason."""
    add_records(store, 2)
    es = search_server.client()
    p = search_server.prefix
    es.indices.create(index=f"{p}-works-v1", aliases={f"{p}-works": {"is_write_index": True}},
                      mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}})
    res = es_sync.sync(store, es, cfg=search_server.cfg())
    assert res.failed == 2 and res.errors
    assert es.count(index=f"{p}-detections")["count"] == 2      # the rest went through
    with store.session() as s:
        left = s.execute(select(OutboxEntry.entity, OutboxEntry.attempts, OutboxEntry.last_error)).all()
    assert {r.entity for r in left} == {"works"} and all(r.attempts == 1 and r.last_error for r in left)


def test_reindex_swaps_alias_and_keeps_receiving(store, search_server):
    det_ids = add_records(store, 4)
    es = search_server.client()
    cfg = search_server.cfg()
    es_sync.sync(store, es, cfg=cfg)
    p = search_server.prefix
    out = es_sync.reindex(store, "detections", es, cfg=cfg)
    assert out["index"] == f"{p}-detections-v2" and out["documents"] == 4
    assert out["deleted"] == [f"{p}-detections-v1"]
    assert list(es.indices.get_alias(name=f"{p}-detections")) == [f"{p}-detections-v2"]
    assert es.count(index=f"{p}-detections")["count"] == 4
    with store.session() as s:
        s.get(Detection, det_ids[0]).review_state = "confirmed"
    es_sync.sync(store, es, cfg=cfg)
    assert es.get(index=f"{p}-detections", id=det_ids[0])["_source"]["review_state"] == "confirmed"
    # a rebuild never overwrites a newer synced state: its version predates later syncs
    assert es.get(index=f"{p}-detections", id=det_ids[0])["_version"] > \
        es.get(index=f"{p}-detections", id=det_ids[1])["_version"]


def test_change_synced_during_a_rebuild_is_not_overwritten(store, search_server):
    """A change synced between the rebuild's read and its write wins over the older state."""
    det_ids = add_records(store, 3)
    es = search_server.client()
    cfg = search_server.cfg()
    es_sync.sync(store, es, cfg=cfg)
    p = search_server.prefix

    def meanwhile(_n):
        with store.session() as s:
            s.get(Detection, det_ids[0]).review_state = "confirmed"
        es_sync.sync(store, es, cfg=cfg)            # writes to v1 and to the v2 being built
    out = es_sync.reindex(store, "detections", es, cfg=cfg, progress=meanwhile)
    assert out["index"] == f"{p}-detections-v2" and out["documents"] == 3
    assert es.get(index=f"{p}-detections", id=det_ids[0])["_source"]["review_state"] == "confirmed"
    assert es.count(index=f"{p}-detections")["count"] == 3


def test_status_reports_backlog_and_indices(store, search_server):
    add_records(store, 2)
    es = search_server.client()
    cfg = search_server.cfg()
    st = es_sync.status(store, es, cfg=cfg)
    assert st["cluster"]["state"] == "up" and st["outbox"]["total"] == 6
    es_sync.sync(store, es, cfg=cfg)
    st = es_sync.status(store, es, cfg=cfg)
    det = st["families"]["detections"]
    assert det["records"] == 2 and det["indices"] == {f"{search_server.prefix}-detections-v1": 2}
    assert det["stale_mapping"] is False and st["outbox"]["total"] == 0


def test_off_when_unconfigured(store):
    with pytest.raises(NotConfigured):
        es_sync.sync(store, cfg={"url": None})
    assert es_sync.status(store, cfg={"url": None})["cluster"]["state"] == "off"


def test_cli_sync_status_reindex(es_settings, store):
    from click.testing import CliRunner
    from earwitness.app.cli import main
    add_records(store, 3)
    from earwitness.kernel import settings
    home = str(settings.get().home)
    run = lambda *a: CliRunner().invoke(main, ["--home", home, *a])  # noqa: E731
    res = run("es", "status")
    assert res.exit_code == 0 and "outbox: 9 rows waiting" in res.output, res.output
    res = run("es", "sync")
    assert res.exit_code == 0 and "sent 9 documents" in res.output and "outbox left 0" in res.output, res.output
    res = run("es", "reindex", "works")
    assert res.exit_code == 0 and f"3 documents into {es_settings.prefix}-works-v2" in res.output, res.output
    st = json.loads(run("es", "status", "--json").stdout)
    assert st["families"]["works"]["aliased"] == [f"{es_settings.prefix}-works-v2"]
    assert run("es", "reindex").exit_code == 2


def test_daemon_job_reports_es_down_and_drains_when_back(es_settings, store, home):
    """The es_sync job fails visibly in status while the server is down; nothing is lost."""
    if es_settings.real:
        pytest.skip("cannot stop an external cluster")
    from click.testing import CliRunner
    from earwitness.app import jobs
    from earwitness.app.cli import main
    spec = jobs.JobSpec(id="es_sync", func="earwitness.app.elastic.sync:sync_job", store=True,
                        trigger={"interval": {"minutes": 1}})
    add_records(store, 2)
    es_settings.stop()
    down = jobs.run_job("es_sync", store=store, spec=spec)
    assert down["status"] == "failed" and "ElasticUnavailable" in down["error"]
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    assert st["backlog"]["outbox"] == 8        # 6 for the records, 2 for the failed run (started, finished)
    res = CliRunner().invoke(main, ["--home", str(home), "es", "status"])
    assert "cluster: unreachable" in res.output and "outbox: 8 rows waiting" in res.output, res.output
    es_settings.start()
    up = jobs.run_job("es_sync", store=store, spec=spec)
    # 6 records, the failed run (two rows, one document), this run as started (its finish: the next sync)
    assert up["status"] == "ok" and up["result"]["sent"] == 8 and up["result"]["remaining"] == 0
    es = es_settings.client()
    assert es.count(index=f"{es_settings.prefix}-detections")["count"] == 2


def test_cases_carry_open_flag_removal_time_and_works(store, search_server):
    from datetime import timedelta
    from earwitness.kernel.store.case_models import Case, CaseEvent
    det_ids = add_records(store, 2)
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    with store.session() as s:
        dets = [s.get(Detection, i) for i in det_ids]
        removed = Case(platform="fixture", media_id="a0", url="http://x/a0", state="removed", opened_at=t0,
                       sent_at=t0 + timedelta(hours=2), removed_at=t0 + timedelta(hours=20), title="clip a0")
        removed.detections = dets[:1]
        closed = Case(platform="fixture", media_id="a1", url="http://x/a1", state="closed", opened_at=t0)
        closed.detections = dets[1:]
        s.add_all([removed, closed])
        s.flush()
        s.add(CaseEvent(case_id=removed.id, seq=1, event="opened", to_state="confirmed", actor="t"))
        ids = (removed.id, closed.id)
    es = search_server.client()
    res = es_sync.sync(store, es, cfg=search_server.cfg(models=["earwitness.kernel.store.case_models"]))
    assert res.failed == 0, res.errors
    idx = f"{search_server.prefix}-cases"
    doc = es.get(index=idx, id=ids[0])["_source"]
    assert doc["is_open"] is True and doc["time_to_removal_h"] == 18.0 and doc["event_count"] == 1
    assert doc["work_ids"] == ["Wa0"] and doc["work_titles"] == ["晴天 Sunny Day a0"]
    assert es.get(index=idx, id=ids[1])["_source"]["is_open"] is False
    agg = es.search(index=idx, size=0, query={"term": {"is_open": True}},
                    aggs={"s": {"terms": {"field": "state"}}, "t": {"avg": {"field": "time_to_removal_h"}}})
    assert agg["aggregations"]["s"]["buckets"] == [{"key": "removed", "doc_count": 1}]
    assert agg["aggregations"]["t"]["value"] == 18.0
