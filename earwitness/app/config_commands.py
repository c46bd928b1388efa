"""``earwitness config show`` (the effective settings and their origins) and ``earwitness completion``."""

from __future__ import annotations

import json
from typing import Any, Iterator, Mapping

import click
from click.core import ParameterSource

from earwitness.kernel import output, settings

SHELLS = ("bash", "zsh", "fish")
SECRET_WORDS = ("password", "secret", "token", "api_key")


def masked_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show it as written
        return url


def shown(key: str, value: Any) -> Any:
    """What ``config show`` prints for a value: passwords, secrets and tokens masked."""
    if key.rsplit(".", 1)[-1] == "store_url" or key.endswith("_url") and isinstance(value, str) and "@" in value:
        return masked_url(value) if isinstance(value, str) else value
    if value not in (None, "") and any(w in key.rsplit(".", 1)[-1].lower() for w in SECRET_WORDS):
        return "***"
    return value


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and leaf values of nested mappings (lists stay whole)."""
    for key, sub in value.items():
        dotted = f"{prefix}{key}"
        if isinstance(sub, Mapping) and sub:
            yield from flatten(sub, dotted + ".")
        else:
            yield dotted, settings.thaw(sub)


def home_origin(ctx: click.Context, cfg: settings.Settings) -> str:
    """Where the data home came from: the --home option, EARWITNESS_HOME, or a settings file."""
    source, _ = ctx.find_root().meta.get("earwitness.home_option", (None, None))
    if source == ParameterSource.COMMANDLINE:
        return "the --home option"
    if source == ParameterSource.ENVIRONMENT:
        return "environment variable EARWITNESS_HOME"
    return cfg.origin("home")


def effective(ctx: click.Context, cfg: settings.Settings, section: str | None = None) -> list[dict[str, Any]]:
    """Every effective setting (optionally one section's) with the file or variable it came from."""
    rows = []
    for key, value in flatten(cfg.raw):
        if section and key != section and not key.startswith(section + "."):
            continue
        origin = home_origin(ctx, cfg) if key == "home" else cfg.origin(key)
        rows.append({"key": key, "value": shown(key, value), "origin": origin})
    return rows


@click.group()
def config() -> None:
    """The effective settings: shipped defaults, your file, environment variables, --home."""


@config.command("show")
@click.argument("section", required=False)
@click.option("--origin", is_flag=True, help="Also say which file or variable each value came from.")
@output.show_options
@click.pass_context
def config_show(ctx: click.Context, section: str | None, origin: bool, as_json: bool) -> None:
    """Print the effective settings (or one SECTION's), one dotted key a line.

    Later sources win: the shipped config/*.yaml, then $EARWITNESS_CONFIG or <home>/earwitness.yaml,
    then EARWITNESS__SECTION__KEY variables, then EARWITNESS_HOME and --home for the data home.
    """
    cfg = settings.get()
    rows = effective(ctx, cfg, section)
    if section and not rows:
        raise click.ClickException(f"no setting or section {section!r} (known sections: "
                                   f"{', '.join(sorted(k for k, v in cfg.raw.items() if isinstance(v, Mapping)))})")
    if origin:
        doc = {r["key"]: {"value": r["value"], "origin": r["origin"]} for r in rows}
    else:
        doc = {r["key"]: r["value"] for r in rows}

    def lines() -> Iterator[str]:
        width = max(len(r["key"]) for r in rows)
        for r in rows:
            value = r["value"] if isinstance(r["value"], str) else json.dumps(r["value"], ensure_ascii=False)
            yield f"{r['key']:<{width}}  {value}" + (f"    # {r['origin']}" if origin else "")

    output.print_show(doc, as_json, lines)


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL; load it with, for bash:

    \b
        eval "$(earwitness completion bash)"        # this shell
        earwitness completion bash > ~/.local/share/bash-completion/completions/earwitness
    """
    from click.shell_completion import get_completion_class

    from earwitness.app.cli import main
    cls = get_completion_class(shell)
    click.echo(cls(main, {}, "earwitness", "_EARWITNESS_COMPLETE").source())
