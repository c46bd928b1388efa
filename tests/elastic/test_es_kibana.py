"""Kibana objects: consistent with the mappings, and imported as Kibana's API expects."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from earwitness.app.cli import main
from earwitness.app.elastic import kibana, mappings


def load_ndjson():
    return [json.loads(line) for line in kibana.NDJSON.read_text(encoding="utf-8").splitlines() if line]


def test_committed_ndjson_is_the_generated_one():
    assert kibana.NDJSON.read_text(encoding="utf-8") == kibana.to_ndjson(kibana.objects())


def test_references_resolve_and_fields_exist_with_the_right_types():
    objs = load_ndjson()
    ids = {(o["type"], o["id"]) for o in objs}
    views = {o["id"]: o["attributes"]["title"].split("-", 1)[1] for o in objs if o["type"] == "index-pattern"}
    for o in objs:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, (o["id"], ref)

    def ftype(family, field):
        name, _, sub = field.partition(".")
        spec = mappings.PROPERTIES[family][name]
        return spec["fields"][sub]["type"] if sub else spec["type"]

    need = {"terms": {"keyword", "boolean"}, "date_histogram": {"date"}, "date_range": {"date"},
            "avg": {"float", "double", "integer", "long"}, "percentiles": {"float", "double", "integer", "long"},
            "cardinality": {"keyword", "integer", "long"}}
    seen = set()
    for o in objs:
        if o["type"] in ("index-pattern", "search", "visualization"):
            pass
        if o["type"] == "index-pattern":
            fam = views[o["id"]]
            if "timeFieldName" in o["attributes"]:      # views for all-time panels have none
                assert ftype(fam, o["attributes"]["timeFieldName"]) == "date"
        if o["type"] == "visualization":
            fam = views[o["references"][0]["id"]]
            for agg in json.loads(o["attributes"]["visState"])["aggs"]:
                if "field" in agg["params"]:
                    assert ftype(fam, agg["params"]["field"]) in need[agg["type"]], (o["id"], agg)
                    seen.add(agg["type"])
        if o["type"] == "search":
            fam = views[o["references"][0]["id"]]
            for col in o["attributes"]["columns"]:
                assert col.split(".")[0] in mappings.PROPERTIES[fam], (o["id"], col)
    assert {"terms", "date_histogram", "date_range", "percentiles"} <= seen
    dash = next(o for o in objs if o["type"] == "dashboard")
    titles = {o["id"]: o["attributes"]["title"] for o in objs}
    panel_titles = {titles[r["id"]] for r in dash["references"]}
    assert panel_titles == {"Detections per day by platform", "Most infringed works",
                            "Open cases by state and age", "Time to removal (hours from notice)"}


class FakeKibana(BaseHTTPRequestHandler):
    """Records each request; answers like Kibana's _import endpoint (or with an error)."""

    requests: list = []
    answer: dict = {}
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        data = json.dumps(self.answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_kibana():
    FakeKibana.requests = []
    FakeKibana.status = 200
    FakeKibana.answer = {"success": True, "successCount": len(load_ndjson()), "successResults": []}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKibana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def parse_multipart(req):
    head = f"Content-Type: {req['headers']['content-type']}\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + req["body"])
    assert msg.is_multipart()
    return list(msg.iter_parts())


def test_import_posts_multipart_ndjson(home, fake_kibana):
    res = CliRunner().invoke(main, ["--home", str(home), "kibana", "import", "--url", fake_kibana,
                                    "--space", "rights", "--user", "analyst", "--password", "s3cret"])
    assert res.exit_code == 0, res.output
    assert "imported 17 saved objects" in res.output
    (req,) = FakeKibana.requests
    assert req["path"] == "/s/rights/api/saved_objects/_import?overwrite=true"
    assert req["headers"]["kbn-xsrf"] == "true"
    assert req["headers"]["authorization"] == "Basic YW5hbHlzdDpzM2NyZXQ="
    (part,) = parse_multipart(req)
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "earwitness.ndjson"
    sent = [json.loads(line) for line in part.get_payload(decode=True).decode().splitlines() if line]
    assert sent == load_ndjson()


def test_import_rewrites_data_views_for_another_prefix(home, fake_kibana, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__ELASTICSEARCH__INDEX_PREFIX", "acme")
    settings.configure(home)
    res = CliRunner().invoke(main, ["--home", str(home), "kibana", "import", "--url", fake_kibana, "--no-overwrite"])
    assert res.exit_code == 0, res.output
    (req,) = FakeKibana.requests
    assert req["path"] == "/api/saved_objects/_import"
    (part,) = parse_multipart(req)
    sent = [json.loads(line) for line in part.get_payload(decode=True).decode().splitlines() if line]
    assert {o["attributes"]["title"] for o in sent if o["type"] == "index-pattern"} == {
        "acme-detections", "acme-clips", "acme-cases", "acme-works", "acme-notices", "acme-site_checks"}


def test_import_failure_is_reported(home, fake_kibana):
    FakeKibana.answer = {"success": False, "successCount": 13, "errors": [
        {"id": "ew-view-cases", "type": "index-pattern", "error": {"type": "conflict"}}]}
    res = CliRunner().invoke(main, ["--home", str(home), "kibana", "import", "--url", fake_kibana])
    assert res.exit_code == 1 and "refused 1" in res.output and "ew-view-cases" in res.output
    FakeKibana.status, FakeKibana.answer = 401, {"statusCode": 401, "error": "Unauthorized"}
    res = CliRunner().invoke(main, ["--home", str(home), "kibana", "import", "--url", fake_kibana])
    assert res.exit_code == 1 and "HTTP 401" in res.output


def test_unreachable_kibana_is_a_clear_error(home):
    res = CliRunner().invoke(main, ["--home", str(home), "kibana", "import", "--url", "http://127.0.0.1:9"])
    assert res.exit_code == 1 and "Error:" in res.output
