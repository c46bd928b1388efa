"""Drain the outbox into Elasticsearch, rebuild indices, report the mirror's state.

Guarantees:

- An outbox row is deleted only after Elasticsearch acknowledged the document it
  stands for; with the cluster down nothing is deleted, and the next run resends.
- Document ids are record ids, and every write carries an external version
  taken from a counter in the store (``es_sync_state``) and reserved *before*
  the records are read (``external_gte``, as ``reindex`` does), so a resend, a
  slow concurrent run or a reindex racing the sync never leaves an older state
  on top of a newer one (Elasticsearch answers 409, which counts as
  acknowledged): a run that read earlier always holds the lower version.
- A document Elasticsearch refuses (a mapping conflict, a value it cannot
  parse) is *parked*: its outbox row stays with ``last_error`` starting
  ``parked:`` and the reason, later runs skip it, ``es status`` counts it, and
  ``es sync --retry-parked`` sends it again once the cause is fixed. The run
  reports ``partial`` (or ``failed`` when nothing was acknowledged).
- The sync always sends a record's *current* state (or a delete once it is gone),
  so several outbox rows for one record become one write.
- Writes go to every concrete index of a family, so an index being rebuilt by
  ``es reindex`` receives live changes while it fills.
- Each run ends with an explicit refresh of the indices it wrote.

Settings read (``elasticsearch``): ``index_prefix``, ``shards``, ``replicas``,
``batch_size``, ``retries``, ``backoff_s``, ``models``; the client's in
:mod:`earwitness.app.elastic.client`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from earwitness.app.daemon_models import SyncState
from earwitness.app.elastic import ElasticError, ElasticUnavailable, NotConfigured
from earwitness.app.elastic import documents, mappings
from earwitness.app.elastic.client import config, make_client
from earwitness.kernel.store.models import OutboxEntry, utcnow

log = logging.getLogger(__name__)

VERSION_COUNTER = "doc_version"
PARKED = "parked: "


def _transient(exc: BaseException) -> bool:
    """Worth retrying: the cluster is unreachable, overloaded or failing."""
    from elasticsearch import ApiError, ConnectionError, ConnectionTimeout
    if isinstance(exc, (ConnectionError, ConnectionTimeout)):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in (429, 502, 503, 504)


def with_retries(call: Callable[[], Any], *, retries: int, backoff_s: float, what: str) -> Any:
    """Run ``call``; retry transient failures with doubling back-off, then raise ElasticUnavailable."""
    delay = backoff_s
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not _transient(exc):
                raise
            if attempt == retries:
                raise ElasticUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
            log.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, delay)
            time.sleep(delay)
            delay *= 2


def reserve_versions(store, n: int) -> int:
    """Reserve ``n`` consecutive external versions; returns the first."""
    for _ in range(3):
        try:
            with store.session() as s:
                res = s.execute(update(SyncState).where(SyncState.name == VERSION_COUNTER)
                                .values(value=SyncState.value + n, updated_at=utcnow()))
                if res.rowcount == 0:
                    s.add(SyncState(name=VERSION_COUNTER, value=n))
                    s.flush()
                    return 1
                value = s.scalar(select(SyncState.value).where(SyncState.name == VERSION_COUNTER))
                return int(value) - n + 1
        except IntegrityError:
            continue  # another process created the counter first
    raise ElasticError("could not reserve document versions")


@dataclass
class SyncResult:
    """What one drain did."""

    sent: int = 0            # documents written or deleted
    acknowledged_rows: int = 0
    failed: int = 0          # documents Elasticsearch refused (rows parked with the reason)
    batches: int = 0
    remaining: int = 0       # outbox rows left
    by_family: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)

    stopped: bool = False
    parked: int = 0          # outbox rows parked (refused now or earlier), skipped by this run

    @property
    def status(self) -> str:
        """``ok``; ``partial`` when some documents were refused; ``failed`` when nothing was acknowledged."""
        if not self.failed:
            return "ok"
        return "partial" if self.sent else "failed"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **asdict(self)}


class Mirror:
    """The cluster side: templates, aliases, the concrete indices of each family."""

    def __init__(self, es, cfg: Mapping[str, Any] | None = None) -> None:
        cfg = config() if cfg is None else cfg
        self.es = es
        self.prefix = str(cfg.get("index_prefix") or "earwitness")
        self.shards = int(cfg.get("shards") or 1)
        self.replicas = int(cfg.get("replicas") or 0)
        self.retries = int(cfg.get("retries", 3))
        self.backoff_s = float(cfg.get("backoff_s", 1.0))

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        return with_retries(fn, retries=self.retries, backoff_s=self.backoff_s, what=what)

    def alias(self, family: str) -> str:
        return mappings.alias(self.prefix, family)

    def indices(self, family: str) -> list[str]:
        """Concrete indices of a family, oldest version first."""
        pattern = f"{self.alias(family)}-v*"
        names = self.call(f"list {pattern}", lambda: self.es.indices.get(
            index=pattern, allow_no_indices=True, expand_wildcards="open")).body
        versioned = [(mappings.index_version(self.prefix, family, n), n) for n in names]
        return [n for v, n in sorted(x for x in versioned if x[0] is not None)]

    def aliased(self, family: str) -> list[str]:
        """Indices the alias points at (normally one)."""
        from elasticsearch import NotFoundError
        try:
            body = self.call("get alias", lambda: self.es.indices.get_alias(name=self.alias(family))).body
        except NotFoundError:
            return []
        return sorted(body)

    def put_template(self, family: str) -> None:
        body = mappings.template(self.prefix, family, shards=self.shards, replicas=self.replicas)
        self.call(f"put template {body['name']}", lambda: self.es.indices.put_index_template(**body))

    def ensure(self, family: str) -> list[str]:
        """Template in place and the alias pointing at an index; returns the write targets."""
        self.put_template(family)
        names = self.indices(family)
        if not names:
            first = mappings.index_name(self.prefix, family, 1)
            self.create(first, alias=self.alias(family))
            names = [first]
        elif not self.aliased(family):
            newest = names[-1]
            self.call("add alias", lambda: self.es.indices.update_aliases(actions=[
                {"add": {"index": newest, "alias": self.alias(family), "is_write_index": True}}]))
        return names

    def create(self, name: str, *, alias: str | None = None) -> None:
        """Create an index (from its template), optionally as the alias's write index."""
        from elasticsearch import BadRequestError
        kwargs: dict[str, Any] = {"index": name}
        if alias:
            kwargs["aliases"] = {alias: {"is_write_index": True}}
        try:
            self.call(f"create {name}", lambda: self.es.indices.create(**kwargs))
        except BadRequestError as exc:
            if "already_exists" not in str(exc):
                raise

    def refresh(self, names: list[str]) -> None:
        if names:
            self.call("refresh", lambda: self.es.indices.refresh(index=",".join(names)))


def _family_targets(mirror: Mirror, cache: dict[str, list[str]], family: str) -> list[str]:
    if family not in cache:
        cache[family] = mirror.ensure(family)
    return cache[family]


def _bulk(mirror: Mirror, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send one bulk request (retrying transient failures); returns the per-action items."""
    if not actions:
        return []

    def send():
        body = []
        for a in actions:
            meta = {k: a[k] for k in ("_index", "_id", "version", "version_type") if k in a}
            body.append({a["_op_type"]: meta})
            if a["_op_type"] == "index":
                body.append(a["_source"])
        return mirror.es.bulk(operations=body, refresh=False)

    resp = mirror.call("bulk", send)
    return [next(iter(item.values())) for item in resp["items"]]


def _acknowledged(item: Mapping[str, Any], op: str) -> bool:
    status = int(item.get("status", 500))
    if 200 <= status < 300:
        return True
    if status == 409:   # a newer version is already there
        return True
    return op == "delete" and status == 404


def _waiting():
    """Outbox rows a sync sends: all but the parked ones."""
    return or_(OutboxEntry.last_error.is_(None), ~OutboxEntry.last_error.startswith(PARKED))


def retry_parked(store) -> int:
    """Put parked outbox rows back in the queue (after fixing what made the cluster refuse them)."""
    with store.session() as s:
        res = s.execute(update(OutboxEntry).where(OutboxEntry.last_error.startswith(PARKED))
                        .values(last_error=None))
        return res.rowcount or 0


def sync(store, es=None, *, batch_size: int | None = None, refresh: bool = True,
         cfg: Mapping[str, Any] | None = None, stop=None) -> SyncResult:
    """Drain the outbox into the cluster; raises NotConfigured or ElasticUnavailable.

    ``stop`` (set when the daemon stops) is checked between batches.
    """
    cfg = config() if cfg is None else cfg
    es = make_client(cfg) if es is None else es
    mirror = Mirror(es, cfg)
    batch_size = int(batch_size or cfg.get("batch_size") or 500)
    result = SyncResult()
    targets: dict[str, list[str]] = {}
    written: set[str] = set()
    cursor = 0
    while True:
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        with store.session() as s:
            rows = s.execute(select(OutboxEntry.seq, OutboxEntry.entity, OutboxEntry.entity_id)
                             .where(OutboxEntry.seq > cursor, _waiting()).order_by(OutboxEntry.seq)
                             .limit(batch_size)).all()
        if not rows:
            break
        cursor = rows[-1].seq
        result.batches += 1
        seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
        for seq, family, entity_id in rows:
            seqs[(family, entity_id)].append(seq)
        try:
            acked, refused = _send_batch(store, mirror, seqs, targets, result)
        except ElasticUnavailable as exc:
            _mark_failed(store, [q for v in seqs.values() for q in v], str(exc))
            result.errors.append(str(exc))
            raise
        written.update(n for fam in {f for f, _ in seqs} for n in targets.get(fam, ()))
        with store.session() as s:
            done = [q for key in acked for q in seqs.get(key, ())]
            for start in range(0, len(done), 500):
                s.execute(delete(OutboxEntry).where(OutboxEntry.seq.in_(done[start:start + 500])))
            for family, entity_id in acked:   # the current state is in: older parked rows are moot
                s.execute(delete(OutboxEntry).where(OutboxEntry.entity == family,
                                                    OutboxEntry.entity_id == entity_id,
                                                    OutboxEntry.last_error.startswith(PARKED)))
        result.acknowledged_rows += len([q for key in acked for q in seqs.get(key, ())])
        for key, reason in refused.items():
            _mark_failed(store, seqs[key], PARKED + reason)
            log.warning("outbox %s/%s parked: %s", key[0], key[1], reason)
            result.failed += 1
            if len(result.errors) < 20:
                result.errors.append(f"{key[0]}/{key[1]}: {reason}")
    if refresh:
        written.update(n for names in targets.values() for n in names)
        mirror.refresh(sorted(written))
        result.refreshed = sorted(written)
    with store.session() as s:
        result.remaining = s.scalar(select(func.count()).select_from(OutboxEntry)) or 0
        result.parked = s.scalar(select(func.count()).select_from(OutboxEntry)
                                 .where(OutboxEntry.last_error.startswith(PARKED))) or 0
    return result


def _mark_failed(store, seqs: list[int], reason: str) -> None:
    with store.session() as s:
        for start in range(0, len(seqs), 500):
            s.execute(update(OutboxEntry).where(OutboxEntry.seq.in_(seqs[start:start + 500]))
                      .values(attempts=OutboxEntry.attempts + 1, last_error=reason[:2000]))


def _send_batch(store, mirror: Mirror, seqs: dict[tuple[str, str], list[int]],
                targets: dict[str, list[str]], result: SyncResult):
    """Build and send the documents for one batch of outbox keys (and their dependents)."""
    by_family: dict[str, list[str]] = defaultdict(list)
    for family, entity_id in seqs:
        by_family[family].append(entity_id)
    refused: dict[tuple[str, str], str] = {}
    docs: dict[tuple[str, str], dict[str, Any] | None] = {}
    # the version is reserved before the records are read: a run that reads later holds a higher
    # one, so the state read here can never land on top of a newer one (ties: same read, same state)
    version = reserve_versions(store, 1)
    with store.session() as s:
        extra: dict[str, set[str]] = defaultdict(set)
        for family, ids in by_family.items():
            for fam, more in documents.dependents(s, family, ids).items():
                extra[fam].update(more)
        for fam, more in extra.items():
            for entity_id in more - set(by_family.get(fam, ())):
                by_family[fam].append(entity_id)
        for family, ids in by_family.items():
            try:
                built = documents.build(s, family, ids)
            except LookupError as exc:
                refused.update({(family, i): str(exc) for i in ids if (family, i) in seqs})
                continue
            docs.update({(family, k): v for k, v in built.items()})
    actions, owners = [], []
    for key in docs:
        family, entity_id = key
        for index in _family_targets(mirror, targets, family):
            doc = docs[key]
            action = {"_index": index, "_id": entity_id, "version": version,
                      "version_type": "external_gte"}
            action.update({"_op_type": "delete"} if doc is None else {"_op_type": "index", "_source": doc})
            actions.append(action)
            owners.append(key)
    items = _bulk(mirror, actions)
    ok: dict[tuple[str, str], bool] = {}
    for key, action, item in zip(owners, actions, items):
        good = _acknowledged(item, action["_op_type"])
        ok[key] = ok.get(key, True) and good
        if not good:
            err = item.get("error")
            refused[key] = (f"{err.get('type')}: {err.get('reason')}" if isinstance(err, dict)
                            else f"status {item.get('status')}")
    acked = [k for k, good in ok.items() if good]
    for family, _ in acked:
        result.by_family[family] = result.by_family.get(family, 0) + 1
    result.sent += len(acked)
    return [k for k in acked if k in seqs], {k: v for k, v in refused.items() if k in seqs}


TIME_CHECKED = "computed_fields_checked_at"


def requeue_time_dependent(store, now: datetime | None = None) -> int:
    """Queue the cases whose time-computed fields (``overdue``, ``deadline_passed``) flipped since the last check.

    Those fields change with the clock, not with the row, so no flush writes an
    outbox row for them; the sync job calls this every run so the mirror follows.
    """
    from earwitness.kernel.store.case_models import Case
    now = now or utcnow()
    stamp = int(now.timestamp())
    with store.session() as s:
        last = s.scalar(select(SyncState.value).where(SyncState.name == TIME_CHECKED))
        since = datetime.fromtimestamp(int(last), timezone.utc) if last is not None else None
        due = or_(Case.sla_due_at <= now, Case.deadline_at <= now)
        if since is not None:
            due = or_((Case.sla_due_at <= now) & (Case.sla_due_at > since),
                      (Case.deadline_at <= now) & (Case.deadline_at > since))
        ids = list(s.scalars(select(Case.id).where(Case.state.in_(("notice_sent", "disputed")), due)))
        for case_id in ids:
            s.add(OutboxEntry(entity=Case.__outbox__, entity_id=case_id, op="upsert"))
        if last is None:
            s.add(SyncState(name=TIME_CHECKED, value=stamp))
        else:
            s.execute(update(SyncState).where(SyncState.name == TIME_CHECKED)
                      .values(value=stamp, updated_at=now))
    return len(ids)


def sync_job(store, *, stop=None) -> dict[str, Any]:
    """The daemon's job: drain the outbox, or say the mirror is off.

    Cases whose ``overdue`` or ``deadline_passed`` flipped with the clock are queued
    first. Refused documents make the run ``partial`` (or ``failed``) with their
    reasons; an unreachable cluster raises, and the daemon records the run as failed.
    """
    try:
        make_client()
    except NotConfigured as exc:
        return {"skipped": str(exc)}
    requeued = requeue_time_dependent(store)
    try:
        return {**sync(store, stop=stop).as_dict(), "requeued_by_clock": requeued}
    except NotConfigured as exc:
        return {"skipped": str(exc)}


def reindex(store, family: str, es=None, *, cfg: Mapping[str, Any] | None = None,
            keep_old: bool = False, batch_size: int = 1000,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Rebuild one family from the SQL store into a new index, then swap the alias atomically.

    Live changes keep flowing meanwhile: the sync writes to every index of the
    family, and the rebuild writes with ``external_gte`` a version reserved
    before it reads, so a change synced during the rebuild is never overwritten
    by the older state the rebuild read. ``progress`` is called with the
    number of records read so far, before each batch is written.
    """
    cfg = config() if cfg is None else cfg
    cls = documents.families().get(family)
    if cls is None:
        raise ElasticError(f"unknown index family {family!r}; known: {sorted(documents.families())}")
    es = make_client(cfg) if es is None else es
    mirror = Mirror(es, cfg)
    old = mirror.ensure(family)
    versions = [mappings.index_version(mirror.prefix, family, n) or 0 for n in old]
    new = mappings.index_name(mirror.prefix, family, max(versions) + 1)
    mirror.put_template(family)
    mirror.create(new)
    base_version = reserve_versions(store, 1)
    pk = sa_inspect(cls).primary_key[0]
    count, last = 0, None
    while True:
        with store.session() as s:
            q = select(pk).order_by(pk).limit(batch_size)
            if last is not None:
                q = q.where(pk > last)
            ids = [str(i) for i in s.scalars(q)]
            if not ids:
                break
            last = ids[-1]
            docs = documents.build(s, family, ids)
        if progress:
            progress(count + len(ids))
        actions = [{"_op_type": "index", "_index": new, "_id": k, "_source": d,
                    "version": base_version, "version_type": "external_gte"}
                   for k, d in docs.items() if d is not None]
        items = _bulk(mirror, actions)
        bad = [i for i, a in zip(items, actions) if not _acknowledged(i, "index")]
        if bad:
            raise ElasticError(f"reindex into {new}: {len(bad)} documents refused, first: {bad[0].get('error')}")
        count += len(actions)
    mirror.refresh([new])
    current = mirror.aliased(family)
    alias_name = mirror.alias(family)
    acts = [{"remove": {"index": n, "alias": alias_name}} for n in current]
    acts.append({"add": {"index": new, "alias": alias_name, "is_write_index": True}})
    mirror.call("swap alias", lambda: es.indices.update_aliases(actions=acts))
    dropped = []
    if not keep_old:
        for name in old:
            if name != new:
                mirror.call(f"delete {name}", lambda name=name: es.indices.delete(index=name))
                dropped.append(name)
    return {"family": family, "index": new, "documents": count, "previous": old, "deleted": dropped}


def outbox_summary(store) -> dict[str, Any]:
    """Outbox backlog per family: rows, oldest, most attempts, last error."""
    with store.session() as s:
        rows = s.execute(select(OutboxEntry.entity, func.count(), func.min(OutboxEntry.created_at),
                                func.max(OutboxEntry.attempts))
                         .group_by(OutboxEntry.entity)).all()
        err = s.execute(select(OutboxEntry.entity, OutboxEntry.last_error)
                        .where(OutboxEntry.last_error.is_not(None))
                        .order_by(OutboxEntry.seq.desc()).limit(1)).first()
    now = datetime.now(timezone.utc)
    out = {fam: {"rows": n, "oldest_age_s": round((now - oldest.replace(tzinfo=timezone.utc)
                                                   if oldest.tzinfo is None else now - oldest).total_seconds(), 1),
                 "max_attempts": attempts}
           for fam, n, oldest, attempts in rows}
    return {"families": out, "total": sum(v["rows"] for v in out.values()),
            "last_error": (f"{err[0]}: {err[1]}" if err else None)}


def status(store, es=None, *, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The mirror's state: outbox backlog, and per family the alias, indices and counts."""
    cfg = config() if cfg is None else cfg
    out: dict[str, Any] = {"outbox": outbox_summary(store), "url": cfg.get("url") or None}
    if es is None:
        try:
            es = make_client(cfg)
        except NotConfigured as exc:
            out["cluster"] = {"state": "off", "reason": str(exc)}
            return out
    mirror = Mirror(es, {**dict(cfg), "retries": 0})
    try:
        info = mirror.call("info", lambda: es.info()).body
    except ElasticError as exc:
        out["cluster"] = {"state": "unreachable", "reason": str(exc)}
        return out
    out["cluster"] = {"state": "up", "name": info.get("cluster_name"),
                      "version": info.get("version", {}).get("number")}
    fams = {}
    for family in sorted(documents.families()):
        names = mirror.indices(family)
        counts = {}
        for name in names:
            counts[name] = mirror.call("count", lambda name=name: es.count(index=name)).body["count"]
        meta_versions = {}
        if names:
            maps = mirror.call("mapping", lambda: es.indices.get_mapping(index=",".join(names))).body
            meta_versions = {n: (m.get("mappings", {}).get("_meta") or {}).get("mapping_version")
                             for n, m in maps.items()}
        with store.session() as s:
            records = s.scalar(select(func.count()).select_from(documents.families()[family]))
        fams[family] = {"alias": mirror.alias(family), "aliased": mirror.aliased(family),
                        "indices": counts, "records": records, "mapping_versions": meta_versions,
                        "stale_mapping": any(v != mappings.MAPPING_VERSION for v in meta_versions.values())}
    out["families"] = fams
    return out
