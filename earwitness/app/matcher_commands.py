"""CLI glue for the catalog and the matcher: ``earwitness catalog ...``, ``match``, ``index ...``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from earwitness.app import catalog as catalog_store
from earwitness.app import progress
from earwitness.kernel import output
from earwitness.kernel.store import open_store
from earwitness.kernel.store.models import Work
from matchers.catalog import CatalogEntry, read_manifest
from matchers.errors import MatcherError
from matchers.match import MAX_SCORE
from matchers.predictions import PredictionsWriter, query_id


SCORE_MEANING = ("score = -log10 of the chance that this many of the clip's peaks line up with the work "
                 "by accident; {threshold:g} or more is reported (README: \"The threshold\")")


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _score_text(score: float) -> str:
    """The score, marked when it hit the matcher's cap (the probability underflowed)."""
    return f">= {MAX_SCORE:.0f} (capped)" if score >= MAX_SCORE else f"{score:.1f}"


def _work_snapshot(store, work_id: str) -> dict[str, Any] | None:
    with store.session() as s:
        work = s.get(Work, work_id)
        if work is None:
            return None
        return {"title": work.title, "artist": work.artist, "isrc": work.isrc, "owner": work.owner,
                "aliases": list(work.aliases or []), "source_path": work.source_path,
                "audio_sha256": work.audio_sha256}


def _warn_alias_separators(entries: list[CatalogEntry]) -> None:
    """Aliases are split on '|' only: say so when a ';' or ',' suggests another separator was meant."""
    for entry in entries:
        odd = [a for a in entry.aliases if ";" in a or "," in a]
        if odd:
            click.echo(f"note: {entry.track_id}: alias {odd[0]!r} is one alias; separate aliases with '|' "
                       "(README: \"Catalog manifests\")", err=True)
            return


@click.group()
def catalog() -> None:
    """The protected catalog: import, add, list, remove works."""


@catalog.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per work, as it is done.")
@click.option("--version-of", "versions", multiple=True, metavar="NEW_ID=EXISTING_ID",
              help="NEW_ID is another version of the recording EXISTING_ID (same fingerprints): import it anyway.")
def catalog_import(manifest: str, as_json: bool, versions: tuple[str, ...]) -> None:
    """Fingerprint the works listed in MANIFEST, a CSV file with a header row.

    \b
    Columns: track_id,path required; title,artist,isrc,owner,aliases optional, in any order.
    path is relative to the manifest's folder; aliases are separated by '|'.
    Idempotent: unchanged files are skipped. Exit status 1 if any file failed.
    """
    try:
        entries = catalog_store.read_manifest_file(manifest)
    except MatcherError as exc:
        _fail(exc)
    bad = [v for v in versions if v.count("=") != 1]
    if bad:
        raise click.UsageError(f"--version-of takes NEW_ID=EXISTING_ID, got {bad[0]!r}")
    versions_of = dict(v.split("=", 1) for v in versions)
    _warn_alias_separators(entries)
    counts: dict[str, int] = {}
    with progress.bar("fingerprinting the catalog", total=len(entries)) as bar:
        def on_outcome(out) -> None:
            counts[out.status] = counts.get(out.status, 0) + 1
            bar.advance(note=out.entry.track_id)
            if out.error:
                bar.log(f"{out.entry.track_id}: failed ({out.error})")
            if as_json:
                click.echo(json.dumps({"track_id": out.entry.track_id, "status": out.status, "error": out.error,
                                       "duration_s": out.duration_s, "hashes": out.n_hashes}))

        try:
            catalog_store.import_catalog(open_store(), entries, progress=on_outcome, versions_of=versions_of)
        except MatcherError as exc:
            _fail(exc)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import"
    click.echo(f"catalog import: {summary}", err=as_json)
    if counts.get("failed"):
        sys.exit(1)


@catalog.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--id", "track_id", help="Track id (default: the file name without extension).")
@click.option("--title", help="Required for a new work; kept as it is when not given for an existing one.")
@click.option("--artist", help="Required for a new work; kept as it is when not given for an existing one.")
@click.option("--isrc")
@click.option("--owner")
@click.option("--alias", "aliases", multiple=True, help="Another title it is known by (repeatable).")
def catalog_add(file: str, track_id: str | None, title: str | None, artist: str | None, isrc: str | None,
                owner: str | None, aliases: tuple[str, ...]) -> None:
    """Fingerprint one FILE as a work, or update a work: only the fields given change, and it says which."""
    store = open_store()
    work_id = track_id or Path(file).stem
    before = _work_snapshot(store, work_id)
    if before is None and not (title and artist):
        raise click.UsageError(f"{work_id!r} is a new work: give --title and --artist")
    old = before or {}
    entry = CatalogEntry(work_id, Path(file), title or old.get("title"), artist or old.get("artist"),
                         isrc or old.get("isrc"), owner or old.get("owner"),
                         tuple(aliases) if aliases else tuple(old.get("aliases") or ()))
    [out] = catalog_store.import_catalog(store, [entry])
    if out.status == "failed":
        raise click.ClickException(f"{file}: {out.error}")
    after = _work_snapshot(store, work_id) or {}
    if before is None:
        click.echo(f"{work_id}: added ({out.duration_s:.1f} s, {out.n_hashes} hashes)")
        return
    changed = [f"{k} {before[k]!r} -> {after.get(k)!r}" for k in ("title", "artist", "isrc", "owner", "aliases",
                                                                  "source_path") if before[k] != after.get(k)]
    if before["audio_sha256"] != after.get("audio_sha256"):
        changed.append(f"audio re-fingerprinted ({out.duration_s:.1f} s, {out.n_hashes} hashes)")
    click.echo(f"{work_id}: " + ("changed " + "; ".join(changed) if changed else "unchanged"))


WORK_COLUMNS = [output.Column("id", "id"), output.Column("title", "title", max_width=40),
                output.Column("artist", "artist", max_width=30),
                output.Column("duration_s", "duration", lambda v: f"{v:.1f} s" if v else "?"),
                output.Column("indexed", "indexed")]


@catalog.command("list")
@output.list_options
def catalog_list(fmt: str) -> None:
    """Every work, and whether its fingerprints are in the index."""
    rows = [{**work.to_document(), "indexed": indexed} for work, indexed in catalog_store.list_works(open_store())]
    output.print_list(rows, WORK_COLUMNS, fmt, noun="works")


@catalog.command("remove")
@click.argument("work_ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array: what happened to each work.")
def catalog_remove(work_ids: tuple[str, ...], as_json: bool) -> None:
    """Remove works: their fingerprints are deleted from the index.

    Every id is checked first: if one is unknown, nothing is removed.
    """
    store = open_store()
    index = catalog_store.open_index()
    unknown = [w for w in dict.fromkeys(work_ids) if w not in index and _work_snapshot(store, w) is None]
    if unknown:
        raise click.ClickException(f"no work with id {', '.join(map(repr, unknown))}; nothing was removed")
    done = []
    for wid in dict.fromkeys(work_ids):
        try:
            out = catalog_store.remove_work(store, wid)
        except MatcherError as exc:
            _fail(exc)
        done.append({"work_id": wid, "removed_from_index": out.removed_from_index, "kept_record": out.kept_record})
        if not as_json:
            note = " (record kept: detections refer to it)" if out.kept_record else ""
            click.echo(f"{wid}: removed{note}")
    if as_json:
        click.echo(output.to_json(done))


@catalog.command("stats")
@output.show_options
def catalog_stats(as_json: bool) -> None:
    """Index size, audio hours, bytes per hour of audio."""
    stats = catalog_store.open_index().stats()
    output.print_show(stats, as_json, lambda: (f"{k:18} {v}" for k, v in stats.items()))


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

    from sqlalchemy import select
    store = open_store()
    with store.session() as s:
        entries = [CatalogEntry(w.id, Path(w.source_path or ""), w.title, w.artist, w.isrc, w.owner, tuple(w.aliases or ()))
                   for w in s.scalars(select(Work))]
    old = catalog_store.index_path()
    aside = old.with_name(old.name + ".old")
    if old.exists():
        shutil.rmtree(aside, ignore_errors=True)
        old.rename(aside)
    with progress.bar("re-fingerprinting the catalog", total=len(entries)) as bar:
        outcomes = catalog_store.import_catalog(store, entries, progress=lambda o: bar.advance(note=o.entry.track_id))
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
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per clip, as it is searched.")
@click.option("--threshold", type=float, help="Score needed to report a match (default from config).")
def match(files: tuple[str, ...], batch: str | None, out: str | None, as_json: bool, threshold: float | None) -> None:
    """Say which catalog work is inside each clip, where, and under which pitch/tempo change.

    The score is -log10 of the chance that the matched peaks line up by accident (a score of 20:
    one chance in 10^20); a match is reported at the threshold (matcher.threshold, 11) or above.
    Exit status 0 when every file was searched (match or no match), 1 when some could not be read.
    """
    from earwitness.app.matching import get_matcher
    import dataclasses
    paths = list(files)
    if batch:
        try:
            lines = Path(batch).read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{batch}: not UTF-8 text (byte {exc.start}); save the list as UTF-8, "
                                       "one path a line") from None
        except OSError as exc:
            raise click.ClickException(f"{batch}: {exc.strerror}") from None
        paths += [ln.strip() for ln in lines if ln.strip()]
    if not paths:
        raise click.UsageError("give FILE arguments or --batch LIST")
    try:
        matcher = get_matcher()
    except MatcherError as exc:
        _fail(exc)
    if threshold is not None:
        matcher = type(matcher)(matcher.index, dataclasses.replace(matcher.qcfg, threshold=threshold))
    works = _work_names(open_store())
    writer, handle = None, None
    if out:
        handle = open(out, "w", newline="")
        writer = PredictionsWriter(handle)
    errors = 0
    matched = 0
    with progress.bar("matching", total=len(paths)) as bar:
        for path in paths:
            res = matcher.identify_file(path)
            m = res.match
            errors += res.error is not None
            matched += m is not None
            bar.advance(note=f"{matched} matched, {errors} unreadable")
            if writer:
                writer.write(query_id(path), res)
            elif as_json:
                click.echo(json.dumps({"file": path, "match": _match_doc(m, works, matcher) if m else None,
                                       "others": [_match_doc(o, works, matcher) for o in res.others],
                                       "query_s": round(res.query_s, 4), "error": res.error}, ensure_ascii=False))
            else:
                click.echo(_describe(path, res, works, matcher.qcfg.threshold))
    if handle:
        handle.close()
        click.echo(f"wrote {out}: {len(paths)} clips, {matched} matched, {errors} unreadable", err=True)
    elif not as_json and matched:
        click.echo(SCORE_MEANING.format(threshold=matcher.qcfg.threshold), err=True)
    if errors:
        sys.exit(1)


def _work_names(store) -> dict[str, tuple[str | None, str | None]]:
    """Work id -> (title, artist), for match output people can read."""
    from sqlalchemy import select
    with store.session() as s:
        return {w.id: (w.title, w.artist) for w in s.scalars(select(Work))}


def _match_doc(m, works, matcher) -> dict:
    title, artist = works.get(m.work_id, (None, None))
    return {**m.to_dict(), "title": title, "artist": artist, "threshold": matcher.qcfg.threshold,
            "score_capped": m.score >= MAX_SCORE}


def _name(work_id: str, works) -> str:
    title, artist = works.get(work_id, (None, None))
    return f"{title or '?'} — {artist or '?'} [{work_id}]" if title or artist else work_id


def _where(work_at_clip_start_s: float) -> str:
    """Where the clip's first sample sits in the work; negative: the clip starts before the work does."""
    if work_at_clip_start_s < -0.005:
        return f"the clip starts {output.number(-work_at_clip_start_s)} s before the work's beginning"
    return f"the clip starts {output.number(work_at_clip_start_s)} s into the work"


def _describe(path: str, res, works, threshold: float) -> str:
    if res.error:
        return f"{path}: ERROR {res.error}"
    m = res.match
    if m is None:
        return f"{path}: no match at threshold {threshold:g} ({res.query_s * 1000:.0f} ms)"
    lines = [f"{path}: {_name(m.work_id, works)}",
             f"  score {_score_text(m.score)} (threshold {threshold:g}): {m.matched_peaks} of the clip's "
             f"{m.clip_peaks} peaks line up with the work",
             f"  {_where(m.work_at_clip_start_s)}: {m.pair.text()} (matched {m.duration_s:.1f} s of the clip)",
             f"  pitch {output.signed(m.pitch_semitones, 2)} semitones, tempo ×{m.tempo_ratio:.3f}  "
             f"({res.query_s * 1000:.0f} ms)"]
    if m.repeats:
        lines.append("  the work loops: the same music also plays at work "
                     + ", ".join(f"{r.work_start_s:.2f}–{r.work_end_s:.2f} s" for r in m.repeats))
    lines += [f"  also: {_name(o.work_id, works)} score {_score_text(o.score)}: {o.pair.text()}"
              for o in res.others]
    return "\n".join(lines)
