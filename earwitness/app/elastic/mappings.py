"""Index templates: explicit mappings per index family, versioned indices behind aliases.

For a family ``detections`` with prefix ``earwitness``: the alias analysts and
Kibana use is ``earwitness-detections``; concrete indices are
``earwitness-detections-v1``, ``-v2``... (``es reindex`` builds the next one and
swaps the alias atomically). The template ``earwitness-detections`` matches
``earwitness-detections-v*`` and carries :data:`MAPPING_VERSION`; bump it when a
mapping changes, and ``es status`` tells which indices predate it.

Titles and names are searchable in English and Chinese: a ``text`` field with
the ``standard`` analyzer, a ``cjk`` subfield (the built-in CJK bigram
analyzer) and a ``raw`` keyword subfield for filters and terms aggregations.
Mappings are ``dynamic: false``: a column added to a record later is kept in
``_source`` but not indexed until its mapping is declared here.
"""

from __future__ import annotations

from typing import Any

MAPPING_VERSION = 1

KEYWORD = {"type": "keyword", "ignore_above": 1024}
DATE = {"type": "date"}
FLOAT = {"type": "float"}
DOUBLE = {"type": "double"}
INT = {"type": "integer"}
LONG = {"type": "long"}
BOOL = {"type": "boolean"}
TEXT = {"type": "text"}
STORED = {"type": "keyword", "index": False, "doc_values": False}  # paths and hashes kept for display
TITLE = {"type": "text", "analyzer": "standard",
         "fields": {"cjk": {"type": "text", "analyzer": "cjk"},
                    "raw": {"type": "keyword", "ignore_above": 512}}}

_CLIP_FIELDS = {
    "platform": KEYWORD, "url": KEYWORD, "media_id": KEYWORD, "title": TITLE,
    "uploader": TITLE, "uploader_id": KEYWORD, "published_at": DATE, "captured_at": DATE,
    "view_count": LONG, "is_live": BOOL, "live_window_start": DATE, "live_window_end": DATE,
    "licensed": BOOL, "audio_sha256": KEYWORD, "media_path": STORED, "media_sha256": KEYWORD,
    "duration_s": FLOAT, "screenshot_path": STORED, "screenshot_sha256": KEYWORD,
    "html_path": STORED, "html_sha256": KEYWORD, "status": KEYWORD, "error": TEXT,
    "matched_at": DATE, "matcher_version": KEYWORD,
}

PROPERTIES: dict[str, dict[str, Any]] = {
    "works": {
        "id": KEYWORD, "title": TITLE, "artist": TITLE, "isrc": KEYWORD, "owner": TITLE,
        "aliases": TITLE, "source_path": STORED, "audio_sha256": KEYWORD, "duration_s": FLOAT,
        "created_at": DATE, "updated_at": DATE,
    },
    "clips": {"id": KEYWORD, **_CLIP_FIELDS, "detection_count": INT},
    "detections": {
        "id": KEYWORD, "clip_id": KEYWORD, "work_id": KEYWORD,
        "clip_offset_s": FLOAT, "ref_offset_s": FLOAT, "duration_s": FLOAT, "score": FLOAT,
        "pitch_semitones": FLOAT, "tempo_ratio": FLOAT, "matched_peaks": INT,
        "matcher_version": KEYWORD, "review_state": KEYWORD, "reviewed_by": KEYWORD,
        "reviewed_at": DATE, "review_reason": TEXT, "created_at": DATE,
        # enrichment: the work and the clip, so analysts filter without joins
        "work_title": TITLE, "work_artist": TITLE, "work_owner": TITLE, "work_isrc": KEYWORD,
        "platform": KEYWORD, "clip_url": KEYWORD, "clip_media_id": KEYWORD, "clip_title": TITLE,
        "uploader": TITLE, "published_at": DATE, "captured_at": DATE, "is_live": BOOL,
        "licensed": BOOL, "view_count": LONG,
    },
    "cases": {
        "id": KEYWORD, "state": KEYWORD, "platform": KEYWORD, "media_id": KEYWORD, "url": KEYWORD,
        "uploader": TITLE, "title": TITLE, "opened_at": DATE, "state_since": DATE, "sent_at": DATE,
        "removed_at": DATE, "closed_at": DATE, "last_checked_at": DATE, "sla_due_at": DATE,
        "dispute_basis": KEYWORD, "deadline_at": DATE, "previous_case_id": KEYWORD,
        "notice_id": KEYWORD, "updated_at": DATE, "overdue": BOOL,
        # derived: open flag, hours from notice (or opening) to removal, the works involved
        "is_open": BOOL, "time_to_removal_h": DOUBLE, "work_ids": KEYWORD, "work_titles": TITLE,
        "detection_count": INT, "event_count": INT,
    },
    "case_events": {
        "id": KEYWORD, "case_id": KEYWORD, "seq": INT, "event": KEYWORD, "from_state": KEYWORD,
        "to_state": KEYWORD, "actor": KEYWORD, "at": DATE, "reason": TEXT,
    },
    "notices": {
        "id": KEYWORD, "state": KEYWORD, "platform": KEYWORD, "recipient": TITLE, "lang": KEYWORD,
        "created_at": DATE, "created_by": KEYWORD, "sent_at": DATE, "sent_by": KEYWORD,
        "channel": KEYWORD, "sent_to": KEYWORD, "case_ids": KEYWORD, "case_count": INT,
    },
    "evidence": {
        "id": KEYWORD, "detection_id": KEYWORD, "manifest_path": STORED, "manifest_sha256": KEYWORD,
        "ledger_seq": LONG, "ledger_hash": KEYWORD, "timestamped": BOOL, "created_at": DATE,
    },
    # live rooms: one document per period of watching one room (crawler/models.py LiveCoverage)
    "live_coverage": {
        "id": KEYWORD, "platform": KEYWORD, "room_id": KEYWORD, "url": KEYWORD, "title": TITLE,
        "period_start": DATE, "period_end": DATE, "heard_s": DOUBLE, "windows": INT, "plays": INT,
        "last_hit_at": DATE, "outcome": KEYWORD, "reason": TEXT,
    },
    # the crawler canary: one document per check of one site (crawler/canary.py)
    "site_checks": {"id": KEYWORD, "site": KEYWORD, "state": KEYWORD, "reason": TEXT, "checked_at": DATE},
    # the daemon's job runs (earwitness/app/daemon_models.py): ``red`` for failed, partial, interrupted
    "job_runs": {
        "id": KEYWORD, "job_id": KEYWORD, "family": KEYWORD, "site": KEYWORD, "trigger": KEYWORD,
        "status": KEYWORD, "red": BOOL, "started_at": DATE, "finished_at": DATE, "seconds": DOUBLE,
        "error": TEXT, "error_line": TEXT, "result_json": STORED, "host": KEYWORD, "pid": LONG,
    },
}

# families without a declared mapping (a record class added later): strings as keywords
DYNAMIC_FALLBACK = {
    "dynamic": True,
    "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": KEYWORD}}],
    "properties": {"id": KEYWORD},
}


def alias(prefix: str, family: str) -> str:
    """The alias analysts query: ``<prefix>-<family>``."""
    return f"{prefix}-{family}"


def index_name(prefix: str, family: str, version: int) -> str:
    """A concrete index: ``<prefix>-<family>-v<version>``."""
    return f"{prefix}-{family}-v{version}"


def index_version(prefix: str, family: str, name: str) -> int | None:
    """The ``N`` of ``<prefix>-<family>-vN``, or None for other names."""
    head = f"{prefix}-{family}-v"
    if name.startswith(head) and name[len(head):].isdigit():
        return int(name[len(head):])
    return None


def mappings(family: str) -> dict[str, Any]:
    """The explicit mapping of one family (a dynamic fallback for unknown families)."""
    props = PROPERTIES.get(family)
    base = ({"dynamic": False, "properties": dict(props)} if props is not None
            else {k: (list(v) if isinstance(v, list) else v) for k, v in DYNAMIC_FALLBACK.items()})
    base["_meta"] = {"earwitness_family": family, "mapping_version": MAPPING_VERSION}
    return base


def template(prefix: str, family: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Keyword arguments for ``indices.put_index_template`` for one family."""
    return {
        "name": alias(prefix, family),
        "index_patterns": [f"{alias(prefix, family)}-v*"],
        "priority": 200,
        "version": MAPPING_VERSION,
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
            "mappings": mappings(family),
        },
        "meta": {"managed_by": "earwitness", "mapping_version": MAPPING_VERSION},
    }
