"""CLI glue for the catalog and the matcher: ``earwitness catalog ...``, ``match``, ``index ...``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from earwitness.app import catalog as catalog_store
from earwitness.kernel.store import open_store
from matchers.catalog import CatalogEntry
from matchers.errors import MatcherError


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


@click.group()
def catalog() -> None:
    """The protected catalog: import, add, list, remove works."""


@catalog.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per work on stdout.")
def catalog_import(manifest: str, as_json: bool) -> None:
    """Fingerprint the works listed in MANIFEST.csv (track_id,path[,title,artist,isrc,owner,aliases]).

    Idempotent: unchanged files are skipped. Exit status 1 if any file failed.
    """
    done = [0]

    def progress(out) -> None:
        done[0] += 1
        line = f"[{done[0]}] {out.entry.track_id}: {out.status}"
        if out.error:
            line += f" ({out.error})"
        click.echo(line, err=True)

    try:
        outcomes = catalog_store.import_manifest(open_store(), manifest, progress=progress)
    except MatcherError as exc:
        _fail(exc)
    counts: dict[str, int] = {}
    for out in outcomes:
        counts[out.status] = counts.get(out.status, 0) + 1
        if as_json:
            click.echo(json.dumps({"track_id": out.entry.track_id, "status": out.status, "error": out.error,
                                   "duration_s": out.duration_s, "hashes": out.n_hashes}))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import"
    click.echo(f"catalog import: {summary}", err=as_json)
    if counts.get("failed"):
        sys.exit(1)


@catalog.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--id", "track_id", help="Track id (default: the file name without extension).")
@click.option("--title", required=True)
@click.option("--artist", required=True)
@click.option("--isrc")
@click.option("--owner")
def catalog_add(file: str, track_id: str | None, title: str, artist: str, isrc: str | None, owner: str | None) -> None:
    """Fingerprint one FILE as a work."""
    entry = CatalogEntry(track_id or Path(file).stem, Path(file), title, artist, isrc, owner)
    [out] = catalog_store.import_catalog(open_store(), [entry])
    if out.status == "failed":
        raise click.ClickException(f"{file}: {out.error}")
    click.echo(f"{entry.track_id}: {out.status} ({out.duration_s:.1f} s, {out.n_hashes} hashes)")


@catalog.command("list")
@click.option("--json", "as_json", is_flag=True)
def catalog_list(as_json: bool) -> None:
    """Every work, and whether its fingerprints are in the index."""
    rows = catalog_store.list_works(open_store())
    for work, indexed in rows:
        if as_json:
            click.echo(json.dumps({**work.to_document(), "indexed": indexed}, ensure_ascii=False))
        else:
            dur = f"{work.duration_s:7.1f}s" if work.duration_s else "       ?"
            flag = "" if indexed else "  [not in index]"
            click.echo(f"{work.id:20} {dur}  {work.artist or '-'} — {work.title or '-'}{flag}")
    if not as_json:
        click.echo(f"{len(rows)} works", err=True)


@catalog.command("remove")
@click.argument("work_ids", nargs=-1, required=True)
def catalog_remove(work_ids: tuple[str, ...]) -> None:
    """Remove works: their fingerprints are deleted from the index."""
    store = open_store()
    for wid in work_ids:
        try:
            out = catalog_store.remove_work(store, wid)
        except MatcherError as exc:
            _fail(exc)
        note = " (record kept: detections refer to it)" if out.kept_record else ""
        click.echo(f"{wid}: removed{note}")


@catalog.command("stats")
@click.option("--json", "as_json", is_flag=True)
def catalog_stats(as_json: bool) -> None:
    """Index size, audio hours, bytes per hour of audio."""
    stats = catalog_store.open_index().stats()
    if as_json:
        click.echo(json.dumps(stats))
    else:
        for k, v in stats.items():
            click.echo(f"{k:18} {v}")


@click.group()
def index() -> None:
    """Maintain the fingerprint index."""


@index.command("compact")
def index_compact() -> None:
    """Merge all index segments into one."""
    catalog_store.open_index().compact()
    click.echo("index compacted")


@index.command("rebuild")
def index_rebuild() -> None:
    """Re-fingerprint every work from its source file into a fresh index (after a settings change)."""
    import shutil
    from earwitness.app.catalog import index_path
    store = open_store()
    with store.session() as s:
        from sqlalchemy import select
        from earwitness.kernel.store.models import Work
        entries = [CatalogEntry(w.id, Path(w.source_path or ""), w.title, w.artist, w.isrc, w.owner, tuple(w.aliases or ()))
                   for w in s.scalars(select(Work))]
    old = index_path()
    aside = old.with_name(old.name + ".old")
    if old.exists():
        shutil.rmtree(aside, ignore_errors=True)
        old.rename(aside)
    outcomes = catalog_store.import_catalog(store, entries)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        click.echo(f"{o.entry.track_id}: failed ({o.error})", err=True)
    shutil.rmtree(aside, ignore_errors=True)
    click.echo(f"index rebuilt: {len(outcomes) - len(failed)} works, {len(failed)} failed")
    if failed:
        sys.exit(1)


@click.command()
@click.argument("files", nargs=-1, type=click.Path())
@click.option("--batch", "batch", type=click.Path(dir_okay=False), help="Text file of paths, one a line.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="With --batch: predictions CSV to write.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per clip.")
@click.option("--threshold", type=float, help="Score needed to report a match (default from config).")
def match(files: tuple[str, ...], batch: str | None, out: str | None, as_json: bool, threshold: float | None) -> None:
    """Say which catalog work is inside each clip, where, and under which pitch/tempo change.

    Exit status 0 when every file was searched (match or no match), 1 when some could not be read.
    """
    from earwitness.app.matching import get_matcher
    import dataclasses
    paths = list(files)
    if batch:
        paths += [ln.strip() for ln in Path(batch).read_text().splitlines() if ln.strip()]
    if not paths:
        raise click.UsageError("give FILE arguments or --batch LIST")
    try:
        matcher = get_matcher()
    except MatcherError as exc:
        _fail(exc)
    if threshold is not None:
        matcher = type(matcher)(matcher.index, dataclasses.replace(matcher.qcfg, threshold=threshold))
    writer, handle = None, None
    if out:
        handle = open(out, "w", newline="")
        writer = csv.writer(handle)
        writer.writerow(["query_id", "pred_track_id", "score", "pred_offset_s", "query_s", "pitch_semitones",
                         "tempo_ratio", "error"])
    errors = 0
    show_progress = len(paths) > 20
    for n, path in enumerate(paths, start=1):
        res = matcher.identify_file(path)
        m = res.match
        errors += res.error is not None
        if writer:
            writer.writerow([Path(path).stem, m.work_id if m else "", f"{m.score:.3f}" if m else "",
                             f"{m.ref_offset_s:.3f}" if m else "", f"{res.query_s:.4f}",
                             f"{m.pitch_semitones:.3f}" if m else "", f"{m.tempo_ratio:.4f}" if m else "",
                             res.error or ""])
        elif as_json:
            click.echo(json.dumps({"file": path, "match": m.to_dict() if m else None,
                                   "others": [o.to_dict() for o in res.others], "query_s": round(res.query_s, 4),
                                   "error": res.error}))
        else:
            click.echo(_describe(path, res))
        if show_progress and (n % 100 == 0 or n == len(paths)):
            click.echo(f"{n}/{len(paths)} clips", err=True)
    if handle:
        handle.close()
        click.echo(f"wrote {out}: {len(paths)} clips, {errors} unreadable", err=True)
    if errors:
        sys.exit(1)


def _describe(path: str, res) -> str:
    if res.error:
        return f"{path}: ERROR {res.error}"
    m = res.match
    if m is None:
        return f"{path}: no match ({res.query_s * 1000:.0f} ms)"
    lines = [f"{path}: {m.work_id}  score {m.score:.1f}",
             f"  reference offset {m.ref_offset_s:.2f} s, clip offset {m.clip_offset_s:.2f} s, matched {m.duration_s:.1f} s",
             f"  pitch {m.pitch_semitones:+.2f} semitones, tempo ×{m.tempo_ratio:.3f}  ({res.query_s * 1000:.0f} ms)"]
    lines += [f"  also: {o.work_id} score {o.score:.1f} at {o.ref_offset_s:.2f} s" for o in res.others]
    return "\n".join(lines)
