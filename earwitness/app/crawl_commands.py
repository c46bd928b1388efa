"""CLI: ``earwitness crawl``, ``earwitness live sample``, ``earwitness detections list``.

Glue only: the crawler is handed the matcher (:func:`earwitness.app.matching.match_stored_clip`)
as what to call when a clip is stored."""

from __future__ import annotations

import json
import sys

import click

from crawler.errors import CrawlerError
from earwitness.app import progress
from earwitness.kernel import output


def clips_since(started) -> str:
    """How many clips and detections the store gained since ``started`` (a spinner's note)."""
    from sqlalchemy import func, select

    from earwitness.kernel.store import open_store
    from earwitness.kernel.store.models import Clip, Detection
    with open_store().session() as s:
        clips = s.scalar(select(func.count()).select_from(Clip).where(Clip.captured_at >= started))
        dets = s.scalar(select(func.count()).select_from(Detection).where(Detection.created_at >= started))
    return f"{clips} clips, {dets} detections so far"


@click.command()
@click.argument("site")
@click.option("--query", "-q", "queries", multiple=True,
              help="Search for this (repeatable). Default: catalog titles/artists/aliases + keywords.")
@click.option("--limit", "-n", type=int, help="Fetch at most N items in this crawl.")
@click.option("--timeout", "timeout_s", type=float, help="Kill the crawl after this many seconds.")
@click.option("--render-js/--no-render-js", default=None, help="Override the site's render_js.")
@click.option("--no-match", is_flag=True, help="Store clips as 'fetched' without matching them now.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Where the crawl child's log goes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def crawl(site, queries, limit, timeout_s, render_js, no_match, log_file, as_json):
    """Crawl SITE (a config/sites/*.yaml name or an adapter: bilibili, youtube, tiktok, douyin,
    kuaishou, huya, douyu, twitch), fetch new clips, match them."""
    from crawler.run import crawl_site
    from earwitness.app.stage_jobs import clip_sink
    from earwitness.kernel.store.models import utcnow
    started = utcnow()
    try:
        report = progress.while_running(
            f"crawling {site}",
            lambda: crawl_site(site, query=list(queries) if queries else None, limit=limit, timeout_s=timeout_s,
                               render_js=render_js, on_clip_stored=None if no_match else clip_sink(),
                               log_file=log_file),
            note=lambda: clips_since(started))
    except CrawlerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        c = report.counts
        click.echo(f"{site}: listed {c.get('listed', 0)}, fetched {c.get('fetched', 0)} "
                   f"(licensed {c.get('licensed', 0)}, audio reused {c.get('reused_audio', 0)}), "
                   f"gone {c.get('gone', 0)}, rejected {c.get('rejected', 0)}, failed {c.get('failed', 0)}, "
                   f"detections {c.get('detections', 0)} in {report.elapsed_s:.1f}s"
                   + (" [TIMED OUT]" if report.timed_out else ""))
        for err in report.errors[-10:]:
            click.echo(f"  ! {err}", err=True)
    if not report.ok:
        sys.exit(1)


@click.group()
def live():
    """Sample live rooms."""


@live.command("sample")
@click.option("--room", "rooms", multiple=True, help="Room URL (repeatable). Default: configured + discovered.")
@click.option("--window", "window_s", type=float, help="Seconds per window (default live.window_s).")
@click.option("--evidence", "evidence_s", type=float, help="Seconds of evidence after a hit (live.evidence_s).")
@click.option("--loop", is_flag=True, help="Repeat every live.period_min minutes until stopped.")
@click.option("--json", "as_json", is_flag=True)
def live_sample(rooms, window_s, evidence_s, loop, as_json):
    """Record a window from each watched room, match it, and record evidence on a hit."""
    from dataclasses import asdict

    from crawler.live import sample_forever, sample_rooms
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel.store.models import utcnow
    if loop:
        sample_forever(match_stored_clip, list(rooms) or None)
        return
    started = utcnow()
    try:
        rep = progress.while_running(
            "sampling live rooms",
            lambda: sample_rooms(match_stored_clip, list(rooms) or None, window_s=window_s, evidence_s=evidence_s),
            note=lambda: clips_since(started))
    except CrawlerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(asdict(rep), indent=2))
    else:
        click.echo(f"rooms {rep.rooms} (offline {rep.offline}), windows {rep.windows}, matched "
                   f"{rep.matched_windows}, detections {rep.detections}, evidence {rep.evidence_recordings}")
        for err in rep.errors:
            click.echo(f"  ! {err}", err=True)


@live.command("watch")
@click.option("--room", "rooms", multiple=True, help="Room URL (repeatable). Default: live.watch.rooms.")
@click.option("--minutes", type=float, help="How long to watch (default live.period_min); Ctrl-C stops sooner.")
@click.option("--json", "as_json", is_flag=True)
def live_watch(rooms, minutes, as_json):
    """Watch rooms continuously: overlapping windows, one detection per play, evidence cut around each."""
    import threading

    from crawler.watch import watch_rooms
    from earwitness.app.matching import match_stored_clip
    stop = threading.Event()
    try:
        out = watch_rooms(match_stored_clip, list(rooms) or None, minutes=minutes, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        raise
    except CrawlerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for url, r in out["rooms"].items():
        if "sightings" not in r:
            click.echo(f"{url}: {r.get('outcome')} {r.get('reason') or r.get('error') or ''}")
            continue
        click.echo(f"{url}: {r['audio_s']:.0f} s watched, {r['windows']} windows, {len(r['sightings'])} plays matched")
        for s in r["sightings"]:
            click.echo(f"  {s['start']}  {s['work_id']}  heard {s['heard_s']:.0f} s  evidence {s['evidence_clip_id']}")
        for o in r["outcomes"]:
            click.echo(f"  ! stream ended: {o['outcome']} ({o['reason']})", err=True)
    for url in out["over_budget"]:
        click.echo(f"{url}: over the budget of {out['budget']} rooms (live.watch.max_rooms); rotates in later",
                   err=True)
    search = out.get("search") or {}
    if search:
        asked = ", ".join(f"{site} {len(qs)}" for site, qs in (search.get("queries") or {}).items())
        click.echo(f"room search: queries ({asked or 'none'}), {len(search.get('found') or {})} live rooms found")
    for problem in search.get("problems") or []:
        click.echo(f"  ! search {problem}", err=True)


@click.group()
def detections():
    """Detections found by matching crawled clips."""


def detection_rows(session, *, state: str | None = None, limit: int | None = None) -> list[dict]:
    from sqlalchemy import select

    from earwitness.kernel.store.models import Clip, Detection, Work
    q = (select(Detection, Clip, Work).join(Clip, Detection.clip_id == Clip.id)
         .join(Work, Detection.work_id == Work.id).order_by(Detection.created_at.desc()))
    if state:
        q = q.where(Detection.review_state == state)
    if limit:
        q = q.limit(limit)
    rows = []
    for d, c, w in session.execute(q).all():
        rows.append({
            "detection_id": d.id, "work_id": w.id, "work": w.title, "artist": w.artist,
            "platform": c.platform, "clip_url": c.url, "media_id": c.media_id, "uploader": c.uploader,
            "is_live": c.is_live, "clip_offset_s": round(d.clip_offset_s, 2), "ref_offset_s": round(d.ref_offset_s, 2),
            "duration_s": round(d.duration_s, 2), "score": round(d.score, 3),
            "pitch_semitones": round(d.pitch_semitones, 2), "tempo_ratio": round(d.tempo_ratio, 3),
            "status": d.review_state, "created_at": d.created_at.isoformat(),
        })
    return rows


def score_cell(score: float) -> str:
    """A score for a table, marked when it hit the matcher's cap."""
    from matchers.match import MAX_SCORE
    return f">={MAX_SCORE:.0f} (capped)" if score >= MAX_SCORE else output.number(score, 1)


DETECTION_COLUMNS = [
    output.Column("detection_id", "id"),
    output.Column("work", "work", max_width=36,
                  of_row=lambda r: " — ".join(x for x in (r["work"], r["artist"]) if x) or r["work_id"]),
    output.Column("platform", "platform"),
    output.Column("clip_offset_s", "in clip", lambda v: f"{output.number(v, 1)} s"),
    output.Column("ref_offset_s", "in work", lambda v: f"{output.number(v, 1)} s"),
    output.Column("duration_s", "matched", lambda v: f"{output.number(v, 1)} s"),
    output.Column("score", "score", lambda v: score_cell(v)),
    output.Column("pitch_semitones", "pitch", lambda v: f"{output.signed(v)} st"),
    output.Column("tempo_ratio", "tempo", lambda v: f"x{v:.2f}"),
    output.Column("status", "status"),
    output.Column("clip_url", "clip"),
]


@detections.command("list")
@click.option("--state", help="Only this review state (pending, confirmed, rejected).")
@click.option("--limit", type=int)
@output.list_options
def detections_list(state, limit, fmt):
    """List detections, newest first: id, work, platform, offsets, score, estimated transform, status, clip URL.

    Score: -log10 of the chance that the match is an accident; matches are reported from matcher.threshold (11).
    """
    from earwitness.kernel.store import open_store
    with open_store().session() as s:
        rows = detection_rows(s, state=state, limit=limit)
    output.print_list(rows, DETECTION_COLUMNS, fmt, noun="detections")
