"""Issue 16, failures 6, 8 (trigger overrides, non-UTF-8 input), 9 and 10: results say what happened."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import yaml
from click.testing import CliRunner
from sqlalchemy import select

from earwitness.kernel.store.models import OutboxEntry


def _cli(home, *args):
    from earwitness.app.cli import main
    return CliRunner().invoke(main, ["--home", str(home), *args])


def test_a_mirror_refusing_documents_is_a_partial_run_and_they_are_parked(es_settings, home, store, seed):
    """Failure 6: refused documents: the run is not ok, status shows it, they are not retried forever."""
    from earwitness.app import jobs
    seed.detection()
    es = es_settings.client()
    p = es_settings.prefix
    es.indices.create(index=f"{p}-works-v1", aliases={f"{p}-works": {"is_write_index": True}},
                      mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}})
    spec = jobs.JobSpec(id="es_sync", func="earwitness.app.elastic.sync:sync_job", store=True,
                        trigger={"interval": {"minutes": 1}})
    run = jobs.run_job("es_sync", store=store, spec=spec)
    assert run["status"] == "partial" and "strict_dynamic_mapping" in run["error"], run
    again = jobs.run_job("es_sync", store=store, spec=spec)     # parked: not sent again
    assert again["status"] == "ok" and again["result"]["failed"] == 0 and again["result"]["parked"] == 1, again
    with store.session() as s:
        rows = s.execute(select(OutboxEntry.entity, OutboxEntry.attempts, OutboxEntry.last_error)).all()
    rows = [r for r in rows if r.entity != "job_runs"]      # this run's own finish waits for the next sync
    assert [(r.entity, r.attempts) for r in rows] == [("works", 1)] and rows[0].last_error.startswith("parked: ")
    res = _cli(home, "es", "sync", "--retry-parked")
    assert res.exit_code == 1 and "refused 1" in res.output, res.output


def test_once_exits_non_zero_and_status_shows_a_partial_run(home, store):
    """Failure 6: a job that failed in part exits the CLI non-zero and is not shown as ok."""
    from earwitness.kernel import settings
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        s.add(Clip(platform="fixture", url="u", media_id="m", status="fetched"))   # no index: cannot be matched
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"scheduler": {"jobs": {
        name: (None if name == "match" else False) for name in
        ("crawl", "live", "evidence", "drafting", "recheck", "es_sync", "monthly_report")}}}).replace("null", "{}"))
    settings.configure(home)
    res = _cli(home, "daemon", "--once", "--only", "match")
    assert res.exit_code == 1, res.output
    assert "failed" in res.output
    st = json.loads(_cli(home, "status", "--json").stdout)
    row = next(r for r in st["jobs"] if r["job"] == "match")
    assert row["last_status"] == "failed" and "no fingerprint index" in row["last_error"], row


def test_a_trigger_override_replaces_the_shipped_trigger(home):
    """Failure 8: {interval: {seconds: 10}} is every 10 s, and a job can be switched to cron."""
    import scheduler
    from earwitness.app import jobs
    from earwitness.kernel import settings
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"scheduler": {"jobs": {
        "match": {"trigger": {"interval": {"seconds": 10}}},
        "evidence": {"trigger": {"cron": {"hour": 3, "minute": 0}}}}}}))
    settings.configure(home)
    specs = {s.id: s for s in jobs.load_jobs()}
    assert specs["match"].trigger == {"interval": {"seconds": 10}}
    assert specs["evidence"].trigger == {"cron": {"hour": 3, "minute": 0}}
    assert specs["drafting"].trigger == {"interval": {"minutes": 30}}          # untouched ones as shipped
    assert str(scheduler.make_trigger(specs["match"])) == "interval[0:00:10]"


def test_non_utf8_manifest_and_batch_list_get_a_per_file_error(home, tmp_path):
    """Failure 8: a Latin-1 manifest or batch list is named in one line, no traceback."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes("track_id,path,title\nT1,a.wav,Caf\u00e9\n".encode("latin-1"))
    res = _cli(home, "catalog", "import", str(manifest))
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"{manifest}: not UTF-8" in res.output, res.output
    batch = tmp_path / "list.txt"
    batch.write_bytes("caf\u00e9.wav\n".encode("latin-1"))
    res = _cli(home, "match", "--batch", str(batch))
    assert res.exit_code == 1 and f"{batch}: not UTF-8" in res.output, res.output


def test_the_same_recording_under_a_new_id_is_refused_naming_the_work(home, store, tmp_path):
    """Failure 9: attribution cannot be taken over by importing a copy under another id."""
    import subprocess
    from earwitness.app import catalog
    from fixtures.music import synthesize, write_wav
    from matchers.catalog import CatalogEntry
    original = write_wav(tmp_path / "demo001.wav", synthesize(301, 30.0))
    catalog.import_catalog(store, [CatalogEntry("demo001", original, title="Neon River", artist="Lin Qiao")])
    copy = tmp_path / "copy.wav"                   # the same recording, re-encoded: another file, same fingerprints
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(original), "-ar", "22050", str(copy)], check=True)
    manifest = tmp_path / "takeover.csv"
    manifest.write_text(f"track_id,path,title\n../../etc/x,{copy},Other\nsame-file,{original},Same\n")
    res = _cli(home, "catalog", "import", str(manifest))
    assert res.exit_code == 1, res.output
    assert "already in the catalog as work 'demo001' (Neon River" in res.output, res.output
    assert catalog.open_index().work_ids() == ["demo001"]
    res = _cli(home, "catalog", "import", str(manifest), "--version-of", "../../etc/x=demo001",
               "--version-of", "same-file=demo001")
    assert res.exit_code == 0, res.output
    assert sorted(catalog.open_index().work_ids()) == sorted(["demo001", "../../etc/x", "same-file"])


def test_kibana_objects_state_their_shape_and_open_cases_ignore_the_time_picker():
    """Failure 10: migration versions on every object; the open-cases panel reads an untimed view."""
    from earwitness.app.elastic import kibana
    objs = [json.loads(line) for line in kibana.NDJSON.read_text(encoding="utf-8").splitlines() if line]
    for o in objs:
        assert o["coreMigrationVersion"] == o["typeMigrationVersion"] == kibana.SHAPE_VERSION, o["id"]
        assert o["migrationVersion"] == {o["type"]: kibana.SHAPE_VERSION}
    views = {o["id"]: o for o in objs if o["type"] == "index-pattern"}
    panel = next(o for o in objs if o["id"] == "ew-vis-open-cases-state-age")
    view = views[panel["references"][0]["id"]]
    assert "timeFieldName" not in view["attributes"]          # every open case counts, whatever the range


def test_overdue_reaches_the_mirror_when_the_clock_passes_the_sla(es_settings, home, store):
    """Failure 10: ``overdue`` changes with time, not with the row; the sync job requeues it."""
    from datetime import timedelta
    from earwitness.app.elastic import sync as es_sync
    from earwitness.kernel.store.case_models import Case
    from earwitness.kernel.store.models import utcnow
    now = utcnow()
    with store.session() as s:
        case = Case(platform="fixture", media_id="m1", url="u", state="notice_sent", opened_at=now,
                    state_since=now, sent_at=now, sla_due_at=now + timedelta(seconds=2))
        s.add(case)
    assert es_sync.sync_job(store)["status"] == "ok"
    es = es_settings.client()
    alias = f"{es_settings.prefix}-cases"
    assert es.get(index=alias, id=case.id).body["_source"]["overdue"] is False
    import time
    time.sleep(2.5)
    out = es_sync.sync_job(store)
    assert out["requeued_by_clock"] == 1, out
    es.indices.refresh(index=alias)
    assert es.get(index=alias, id=case.id).body["_source"]["overdue"] is True


class _Elasticsearch8(BaseHTTPRequestHandler):
    """An HTTP server that answers like Elasticsearch 8 about media types (refuses compatible-with=9)."""

    seen: list[str] = []

    def do_GET(self):
        accept = self.headers.get("Accept", "")
        self.seen.append(accept)
        if "compatible-with=9" in accept:
            body = {"error": {"type": "media_type_header_exception",
                              "reason": "Accept version must be either version 8 or 7, but found 9"}, "status": 400}
            code = 400
        else:
            body = {"name": "es8", "cluster_name": "es8", "version": {"number": "8.15.0"}, "tagline": "You Know, for Search"}
            code = 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=8")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_an_elasticsearch_8_cluster_is_reached_with_the_8_node():
    """Failure 10: the 9.x client is refused by ES 8; with the documented node class it is answered."""
    from earwitness.app.elastic.client import make_client
    server = HTTPServer(("127.0.0.1", 0), _Elasticsearch8)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        es = make_client({"url": url, "node_class": "earwitness.app.elastic.client:Elasticsearch8Node"})
        assert es.info().body["version"]["number"] == "8.15.0"
        assert "compatible-with=8" in _Elasticsearch8.seen[-1]
    finally:
        server.shutdown()
