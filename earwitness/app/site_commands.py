"""CLI: ``earwitness login SITE`` (keep a site's login) and ``earwitness sites check`` (the canary).
Glue only: the work is :mod:`crawler.logins` and :mod:`crawler.canary`."""

from __future__ import annotations

import json
import sys

import click

from crawler.errors import CrawlerError


@click.command()
@click.argument("site")
@click.option("--cookies", "cookies_txt", type=click.Path(exists=True, dir_okay=False),
              help="A Netscape cookies.txt exported from a logged-in browser (as yt-dlp takes).")
@click.option("--qr", is_flag=True, help="Log in by QR code: save the code as a picture, wait for a phone scan.")
@click.option("--qr-out", type=click.Path(dir_okay=False), help="Where to save the QR picture (default: data home).")
@click.option("--timeout", "timeout_s", type=float, default=180.0, show_default=True,
              help="How long to wait for the QR scan.")
def login(site, cookies_txt, qr, qr_out, timeout_s):
    """Keep a login for SITE under the data home (owner-only): yt-dlp, Scrapy and the browser use it."""
    from crawler import config, discovery, logins
    from earwitness.kernel import settings
    if bool(cookies_txt) == bool(qr):
        raise click.UsageError("give either --cookies FILE or --qr")
    try:
        cfg = config.load_site(site)
        if cookies_txt:
            path = logins.import_cookies(cfg.name, cookies_txt)
        else:
            out = qr_out or settings.get().path("logins") / f"{cfg.name}-qr.png"
            path = logins.qr_login(cfg, qr_path=out, timeout_s=timeout_s,
                                   on_qr=lambda p: click.echo(f"scan the QR code in {p}", err=True),
                                   browser=discovery.chromium_options(config.section()),
                                   user_agent=cfg.option("user_agent"))
    except CrawlerError as exc:
        raise click.ClickException(str(exc)) from exc
    info = logins.describe(cfg.name)
    click.echo(f"{cfg.name}: login kept in {path} ({info['cookies']} cookies)")


@click.group()
def sites():
    """The configured sites and their health."""


@sites.command("check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of rows.")
def check(names, as_json):
    """Probe each site (or NAMES) with its known search and item: one row per site with
    site, state (ok / needs_login / blocked / broken / unreachable / unchecked), reason, checked_at.
    The rows are kept in the store (shown by `earwitness status`, the review app and the mirror).
    Exits 1 when a site is not ok (unchecked: no canary configured, does not count)."""
    from crawler import canary
    from earwitness.app.daemon_commands import _store
    rows = [c.as_dict() for c in canary.check_sites(_store(), list(names) or None)]
    if as_json:
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        width = max(len(r["site"]) for r in rows)
        click.echo(f"{'site':<{width}}  {'state':<11}  {'checked_at':<25}  reason")
        for r in rows:
            click.echo(f"{r['site']:<{width}}  {r['state']:<11}  {r['checked_at']:<25}  {r['reason']}")
    sys.exit(0 if all(r["state"] in ("ok", "unchecked") for r in rows) else 1)


@sites.command("resume")
@click.argument("site")
def resume(site):
    """Lift SITE's pause (set after a crawl met only walls), e.g. after a new `earwitness login`."""
    from crawler import pauses
    row = pauses.paused(site)
    pauses.clear(site)
    click.echo(f"{site}: " + (f"pause lifted (was until {row['until']}: {row['reason']})" if row else "was not paused"))


def site_status(store) -> dict:
    """For ``earwitness status``: each site's latest canary row (with its crawl pause, if one is on),
    and the sites an operator must act on (needs_login, blocked, unreachable, broken, paused), worst first."""
    from crawler import canary
    with store.session() as s:
        rows = canary.with_pauses(canary.latest(s))
    return {"sites": rows, "sites_attention": [r["site"] for r in canary.needs_attention(rows)]}


def echo_site_status(st: dict) -> None:
    """The site rows of ``earwitness status``: red and flagged (``!``) where a person must act."""
    rows = st["sites"]
    if not rows:
        click.echo("sites: never checked (run `earwitness sites check`; the daemon's canary job does it daily)")
        return
    attention = set(st["sites_attention"])
    click.echo(f"sites (canary): {len(attention)} need attention" if attention else "sites (canary): all ok")
    width = max(len(s) for s in rows)
    for site, r in rows.items():
        state = f"{r['state']:<11}"
        if site in attention:
            state = click.style(state, fg="red", bold=True)
        elif r["state"] == "ok":
            state = click.style(state, fg="green")
        since = f" since {r['since']}" if r.get("since") and r["since"] != r["checked_at"] else ""
        pause = f"; crawls paused until {r['paused']['until']}" if r.get("paused") else ""
        mark = "!" if site in attention else " "
        click.echo(f" {mark} {site:<{width}}  {state} checked {r['checked_at'] or '-'}{since}  {r['reason']}{pause}")
