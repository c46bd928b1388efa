"""``earwitness es sync|status|reindex|setup`` and ``earwitness kibana import``."""

from __future__ import annotations

import json

import click

from earwitness.app.elastic import ElasticError, NotConfigured


def _store():
    from earwitness.kernel.store import open_store
    return open_store()


@click.group()
def es() -> None:
    """The Elasticsearch mirror of the store (off while elasticsearch.url is unset)."""


@es.command("sync")
@click.option("--batch-size", type=int, help="Outbox rows per bulk request.")
@click.option("--retry-parked", is_flag=True,
              help="Send again the documents the cluster refused earlier (after fixing the cause).")
@click.option("--json", "as_json", is_flag=True)
def es_sync(batch_size: int | None, retry_parked: bool, as_json: bool) -> None:
    """Drain the outbox into Elasticsearch now; exit status 1 when the cluster refused documents."""
    import sys
    from earwitness.app.elastic import sync
    store = _store()
    if retry_parked:
        click.echo(f"{sync.retry_parked(store)} parked documents queued again", err=True)
    try:
        res = sync.sync(store, batch_size=batch_size)
    except ElasticError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2))
    else:
        fams = ", ".join(f"{k}={v}" for k, v in sorted(res.by_family.items())) or "nothing to send"
        click.echo(f"sent {res.sent} documents ({fams}); refused {res.failed}; outbox left {res.remaining}"
                   + (f" ({res.parked} parked: es sync --retry-parked once the cause is fixed)"
                      if res.parked else ""))
        for err in res.errors:
            click.echo(f"  refused: {err}", err=True)
    if res.status != "ok":
        sys.exit(1)


@es.command("status")
@click.option("--json", "as_json", is_flag=True)
def es_status(as_json: bool) -> None:
    """The cluster, the outbox backlog, and each family's alias, indices and counts."""
    from earwitness.app.elastic import sync
    st = sync.status(_store())
    if as_json:
        click.echo(json.dumps(st, indent=2, default=str))
        return
    cl = st["cluster"]
    click.echo(f"cluster: {cl['state']}" + (f" ({cl.get('reason')})" if cl.get("reason") else
                                             f" {cl.get('name')} {cl.get('version')} at {st['url']}"))
    ob = st["outbox"]
    click.echo(f"outbox: {ob['total']} rows waiting" + (f"; last error: {ob['last_error']}" if ob["last_error"] else ""))
    for fam, info in sorted(ob["families"].items()):
        click.echo(f"  {fam:<12} {info['rows']:>7} rows, oldest {info['oldest_age_s']:.0f}s, "
                   f"attempts up to {info['max_attempts']}")
    for fam, info in sorted(st.get("families", {}).items()):
        idx = ", ".join(f"{k}={v}" for k, v in info["indices"].items()) or "no index yet"
        stale = "  (mapping older than the code: run es reindex)" if info["stale_mapping"] else ""
        click.echo(f"{info['alias']:<28} -> {','.join(info['aliased']) or '-'}: {idx}; "
                   f"{info['records']} records in the store{stale}")


@es.command("reindex")
@click.argument("families", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every index family.")
@click.option("--keep-old", is_flag=True, help="Keep the previous index instead of deleting it.")
def es_reindex(families: tuple[str, ...], all_: bool, keep_old: bool) -> None:
    """Rebuild families from the store into new indices and swap their aliases (no downtime)."""
    from earwitness.app.elastic import documents, sync
    names = sorted(documents.families()) if all_ else list(families)
    if not names:
        raise click.UsageError("name the families to rebuild, or --all")
    store = _store()
    for fam in names:
        try:
            out = sync.reindex(store, fam, keep_old=keep_old,
                               progress=lambda n, fam=fam: click.echo(f"{fam}: {n} records read …", err=True))
        except ElasticError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{fam}: {out['documents']} documents into {out['index']}; alias swapped; "
                   f"deleted {', '.join(out['deleted']) or 'nothing'}")


@es.command("setup")
def es_setup() -> None:
    """Put the index templates and create the first index of each family (sync does this too)."""
    from earwitness.app.elastic import documents, sync
    from earwitness.app.elastic.client import config, make_client
    cfg = config()
    try:
        mirror = sync.Mirror(make_client(cfg), cfg)
        for fam in sorted(documents.families()):
            click.echo(f"{mirror.alias(fam)} -> {', '.join(mirror.ensure(fam))}")
    except NotConfigured as exc:
        raise click.ClickException(str(exc)) from exc
    except ElasticError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def kibana() -> None:
    """Kibana saved objects (data views, searches, dashboard) from config/kibana/."""


@kibana.command("import")
@click.option("--url", required=True, help="Kibana's base URL, e.g. http://localhost:5601")
@click.option("--space", help="Kibana space id (default space when omitted).")
@click.option("--user", "username", envvar="KIBANA_USER", help="Basic-auth user (or KIBANA_USER).")
@click.option("--password", envvar="KIBANA_PASSWORD", help="Basic-auth password (or KIBANA_PASSWORD).")
@click.option("--api-key", envvar="KIBANA_API_KEY", help="API key (or KIBANA_API_KEY).")
@click.option("--no-overwrite", is_flag=True, help="Keep objects that already exist.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def kibana_import(url, space, username, password, api_key, no_overwrite, files) -> None:
    """Load the saved objects through Kibana's saved-objects _import API."""
    from pathlib import Path

    from earwitness.app.elastic import kibana as kb
    from earwitness.app.elastic.client import config
    prefix = str(config().get("index_prefix") or kb.DEFAULT_PREFIX)
    try:
        answers = kb.import_objects(url, [Path(f) for f in files] or None, prefix=prefix, space=space,
                                    overwrite=not no_overwrite, username=username, password=password,
                                    api_key=api_key)
    except kb.KibanaError as exc:
        raise click.ClickException(str(exc)) from exc
    total = sum(a.get("successCount", 0) for a in answers)
    click.echo(f"imported {total} saved objects into {url}" + (f" (space {space})" if space else ""))
