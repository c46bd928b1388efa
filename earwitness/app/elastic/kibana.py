"""Kibana saved objects for analysts, and their import through Kibana's saved-objects API.

:func:`objects` declares them (data views on the aliases, saved searches,
aggregation-based visualizations and one dashboard); ``config/kibana/earwitness.ndjson``
is their export, written by :func:`write_ndjson` and checked against this
module by the tests. :func:`import_objects` posts NDJSON files to
``POST <kibana>/api/saved_objects/_import`` as ``multipart/form-data``.

The dashboard: detections per day by platform, the most infringed works, open
cases by state and age, time to removal (hours from notice to removal).

Versions: the objects are written in Kibana 7.10's shape and say so
(``coreMigrationVersion``, ``typeMigrationVersion`` and the older
``migrationVersion``), so Kibana 7.10 to 8.x runs its own migrations on them at
import instead of storing 7.10-shaped state as current. "Open cases by state
and age" reads a data view without a time field: every open case counts,
whatever the dashboard's time picker holds (its age buckets come from
``opened_at`` itself).
"""

from __future__ import annotations

import base64
import json
import uuid
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from earwitness.kernel import settings
from earwitness.app.elastic import ElasticError

KIBANA_DIR = settings.CONFIG_DIR / "kibana"
NDJSON = KIBANA_DIR / "earwitness.ndjson"
DEFAULT_PREFIX = "earwitness"


class KibanaError(ElasticError):
    """Kibana refused the import or could not be reached."""


# family -> (time field, default columns of its saved search)
# the Kibana version whose saved-object shape these objects have (Kibana migrates them up from it)
SHAPE_VERSION = "7.10.0"

DATA_VIEWS = {
    "detections": ("created_at", ["work_title", "work_artist", "platform", "uploader", "score",
                                  "review_state", "clip_url"]),
    "clips": ("captured_at", ["platform", "title", "uploader", "status", "is_live", "url"]),
    "cases": ("opened_at", ["state", "platform", "title", "work_titles", "uploader", "sent_at",
                            "removed_at", "overdue"]),
    "works": ("created_at", ["title", "artist", "owner", "isrc"]),
    "notices": ("created_at", ["state", "platform", "recipient", "case_count", "sent_at"]),
    "site_checks": ("checked_at", ["site", "state", "reason"]),     # the crawler canary, one per check
}

SEARCHES = [
    # id, title, family, KQL query
    ("ew-search-pending-detections", "Detections waiting for review", "detections", "review_state : \"pending\""),
    ("ew-search-open-cases", "Open cases", "cases", "is_open : true"),
    ("ew-search-overdue-cases", "Cases past the removal SLA", "cases", "overdue : true"),
    ("ew-search-failed-clips", "Clips that failed to match", "clips", "status : \"failed\""),
    ("ew-search-sites-attention", "Site checks that need a person (canary)", "site_checks",
     "not state : \"ok\" and not state : \"unchecked\""),
]


# data views without a time field, for panels that must not follow the time picker
UNTIMED_VIEWS = {"cases-all": "cases"}


def _view_id(family: str) -> str:
    return f"ew-view-{family}"


def _versioned(obj: dict[str, Any]) -> dict[str, Any]:
    """A saved object stamped with the shape version it was written in."""
    obj.update(coreMigrationVersion=SHAPE_VERSION, typeMigrationVersion=SHAPE_VERSION,
               migrationVersion={obj["type"]: SHAPE_VERSION})
    return obj


def _search_source(query: str = "") -> str:
    return json.dumps({"query": {"query": query, "language": "kuery"}, "filter": [],
                       "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})


def _index_ref(family: str) -> list[dict[str, str]]:
    return [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
             "id": _view_id(family)}]


def _count(agg_id: str = "1", label: str | None = None) -> dict[str, Any]:
    return {"id": agg_id, "enabled": True, "type": "count", "schema": "metric",
            "params": {"customLabel": label} if label else {}}


def _terms(agg_id: str, field: str, schema: str, size: int, label: str) -> dict[str, Any]:
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": "1",
                       "otherBucket": False, "missingBucket": False, "customLabel": label}}


def _histogram_params() -> dict[str, Any]:
    return {
        "type": "histogram", "addTooltip": True, "addLegend": True, "legendPosition": "right",
        "times": [], "addTimeMarker": False,
        "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": True,
                          "style": {}, "scale": {"type": "linear"},
                          "labels": {"show": True, "filter": True, "truncate": 100}, "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left",
                       "show": True, "style": {}, "scale": {"type": "linear", "mode": "normal"},
                       "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                       "title": {"text": "Detections"}}],
        "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked",
                          "data": {"label": "Detections", "id": "1"}, "valueAxis": "ValueAxis-1",
                          "drawLinesBetweenPoints": True, "showCircles": True}],
    }


def _table_params() -> dict[str, Any]:
    return {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False,
            "showTotal": False, "totalFunc": "sum", "percentageCol": ""}


VISUALIZATIONS = [
    {
        "id": "ew-vis-detections-per-day", "family": "detections", "query": "",
        "title": "Detections per day by platform", "type": "histogram", "params": _histogram_params(),
        "aggs": [_count("1", "Detections"),
                 {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                  "params": {"field": "created_at", "interval": "d", "min_doc_count": 1,
                             "extended_bounds": {}, "customLabel": "Day"}},
                 _terms("3", "platform", "group", 10, "Platform")],
    },
    {
        "id": "ew-vis-most-infringed-works", "family": "detections",
        "query": "not review_state : \"rejected\"",
        "title": "Most infringed works", "type": "table", "params": _table_params(),
        "aggs": [_count("1", "Detections"),
                 _terms("2", "work_title.raw", "bucket", 20, "Work"),
                 {"id": "3", "enabled": True, "type": "cardinality", "schema": "metric",
                  "params": {"field": "clip_id", "customLabel": "Clips"}},
                 {"id": "4", "enabled": True, "type": "cardinality", "schema": "metric",
                  "params": {"field": "platform", "customLabel": "Platforms"}}],
    },
    {
        "id": "ew-vis-open-cases-state-age", "family": "cases-all", "query": "is_open : true",
        "title": "Open cases by state and age", "type": "table", "params": _table_params(),
        "aggs": [_count("1", "Cases"),
                 _terms("2", "state", "bucket", 20, "State"),
                 {"id": "3", "enabled": True, "type": "date_range", "schema": "bucket",
                  "params": {"field": "opened_at", "customLabel": "Opened",
                             "ranges": [{"from": "now-7d/d", "to": "now"},
                                        {"from": "now-30d/d", "to": "now-7d/d"},
                                        {"from": "now-90d/d", "to": "now-30d/d"},
                                        {"to": "now-90d/d"}]}}],
    },
    {
        "id": "ew-vis-time-to-removal", "family": "cases", "query": "time_to_removal_h >= 0",
        "title": "Time to removal (hours from notice)", "type": "table", "params": _table_params(),
        "aggs": [_count("1", "Removed cases"),
                 _terms("2", "platform", "bucket", 20, "Platform"),
                 {"id": "3", "enabled": True, "type": "avg", "schema": "metric",
                  "params": {"field": "time_to_removal_h", "customLabel": "Mean hours"}},
                 {"id": "4", "enabled": True, "type": "percentiles", "schema": "metric",
                  "params": {"field": "time_to_removal_h", "percents": [50, 90],
                             "customLabel": "Hours"}}],
    },
]

DASHBOARD_ID = "ew-dashboard-overview"


def objects(prefix: str = DEFAULT_PREFIX) -> list[dict[str, Any]]:
    """Every saved object, data views first (import order does not matter to Kibana)."""
    out: list[dict[str, Any]] = []
    for family, (time_field, _cols) in DATA_VIEWS.items():
        out.append({"type": "index-pattern", "id": _view_id(family),
                    "attributes": {"title": f"{prefix}-{family}", "name": f"Earwitness {family}",
                                   "timeFieldName": time_field},
                    "references": []})
    for view, family in UNTIMED_VIEWS.items():
        out.append({"type": "index-pattern", "id": _view_id(view),
                    "attributes": {"title": f"{prefix}-{family}", "name": f"Earwitness {family} (all time)"},
                    "references": []})
    for sid, title, family, query in SEARCHES:
        out.append({"type": "search", "id": sid,
                    "attributes": {"title": title, "description": "", "columns": DATA_VIEWS[family][1],
                                   "sort": [[DATA_VIEWS[family][0], "desc"]],
                                   "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)}},
                    "references": _index_ref(family)})
    for vis in VISUALIZATIONS:
        state = {"title": vis["title"], "type": vis["type"], "params": vis["params"], "aggs": vis["aggs"]}
        out.append({"type": "visualization", "id": vis["id"],
                    "attributes": {"title": vis["title"], "description": "", "version": 1,
                                   "uiStateJSON": "{}", "visState": json.dumps(state, ensure_ascii=False),
                                   "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(vis["query"])}},
                    "references": _index_ref(vis["family"])})
    panels, refs = [], []
    for n, vis in enumerate(VISUALIZATIONS):
        panels.append({"panelIndex": str(n + 1), "gridData": {"x": 24 * (n % 2), "y": 15 * (n // 2),
                                                              "w": 24, "h": 15, "i": str(n + 1)},
                       "embeddableConfig": {}, "panelRefName": f"panel_{n}", "version": "7.10.0"})
        refs.append({"name": f"panel_{n}", "type": "visualization", "id": vis["id"]})
    out.append({"type": "dashboard", "id": DASHBOARD_ID,
                "attributes": {"title": "Earwitness overview", "description":
                               "Detections per day by platform, most infringed works, open cases by state "
                               "and age, time to removal.",
                               "panelsJSON": json.dumps(panels), "timeRestore": True,
                               "timeFrom": "now-30d", "timeTo": "now", "refreshInterval":
                               {"pause": False, "value": 60000},
                               "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
                               "version": 1,
                               "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                                   {"query": {"query": "", "language": "kuery"}, "filter": []})}},
                "references": refs})
    return [_versioned(o) for o in out]


def to_ndjson(objs: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objs)


def write_ndjson(path: Path = NDJSON, prefix: str = DEFAULT_PREFIX) -> Path:
    """Write the export (run after changing :func:`objects`; a test checks they agree)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_ndjson(objects(prefix)), encoding="utf-8")
    return path


def with_prefix(text: str, prefix: str) -> str:
    """The NDJSON with data views pointed at ``<prefix>-*`` instead of the default prefix."""
    if prefix == DEFAULT_PREFIX:
        return text
    lines = []
    for line in text.splitlines():
        if line.strip():
            obj = json.loads(line)
            if obj.get("type") == "index-pattern":
                title = obj["attributes"]["title"]
                if title.startswith(DEFAULT_PREFIX + "-"):
                    obj["attributes"]["title"] = prefix + title[len(DEFAULT_PREFIX):]
            line = json.dumps(obj, ensure_ascii=False, sort_keys=True)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = f"----earwitness{uuid.uuid4().hex}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def import_objects(url: str, files: Iterable[Path] | None = None, *, prefix: str = DEFAULT_PREFIX,
                   space: str | None = None, overwrite: bool = True, username: str | None = None,
                   password: str | None = None, api_key: str | None = None,
                   timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """POST each NDJSON file to Kibana's ``_import``; returns Kibana's answers, raises on failure."""
    files = list(files) if files is not None else sorted(KIBANA_DIR.glob("*.ndjson"))
    if not files:
        raise KibanaError(f"no .ndjson files in {KIBANA_DIR}")
    base = url.rstrip("/") + (f"/s/{space}" if space else "")
    endpoint = f"{base}/api/saved_objects/_import" + ("?overwrite=true" if overwrite else "")
    answers = []
    for path in files:
        data = with_prefix(Path(path).read_text(encoding="utf-8"), prefix).encode("utf-8")
        body, ctype = _multipart(Path(path).name, data)
        headers = {"Content-Type": ctype, "kbn-xsrf": "true"}
        if api_key:
            headers["Authorization"] = f"ApiKey {api_key}"
        elif username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(endpoint, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                answer = json.loads(resp.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            raise KibanaError(f"{endpoint}: HTTP {exc.code}: {exc.read().decode(errors='replace')[:500]}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise KibanaError(f"{endpoint}: {exc}") from exc
        if not answer.get("success", False):
            errors = answer.get("errors") or []
            detail = "; ".join(f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}"
                               for e in errors[:5])
            raise KibanaError(f"{path.name}: Kibana imported {answer.get('successCount', 0)} objects, "
                              f"refused {len(errors)}: {detail}")
        answers.append(answer)
    return answers
