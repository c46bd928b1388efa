"""The ``earwitness`` command: glue only; each package owns its commands.

Subcommands are imported on first use (``COMMANDS`` maps a name to
``module:attribute``), so ``earwitness --help`` stays fast and one package's
import cost (librosa, Scrapy, Playwright) is paid only by commands that need it.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from earwitness import __version__
from earwitness.kernel import settings

# name -> "module:click object"; the whole command tree in one place
COMMANDS: dict[str, str] = {
    "catalog": "earwitness.app.matcher_commands:catalog",
    "match": "earwitness.app.matcher_commands:match",
    "index": "earwitness.app.matcher_commands:index",
    "crawl": "earwitness.app.crawl_commands:crawl",
    "live": "earwitness.app.crawl_commands:live",
    "detections": "earwitness.app.crawl_commands:detections",
    "fixtures": "fixtures.commands:fixtures",
    "review": "notices.commands:review",
    "cases": "notices.commands:cases",
    "notices": "notices.commands:notices",
    "evidence": "notices.commands:evidence",
    "report": "notices.commands:report",
    "daemon": "earwitness.app.daemon_commands:daemon",
    "status": "earwitness.app.daemon_commands:status",
    "demo": "earwitness.app.demo:demo",
    "bench": "earwitness.app.bench:bench",
    "es": "earwitness.app.elastic.commands:es",
    "kibana": "earwitness.app.elastic.commands:kibana",
    "serve": "earwitness.app.web:serve",
    "users": "webapp.commands:users",
}


class LazyGroup(click.Group):
    """A group whose subcommands live in other modules, imported when called."""

    commands_map: dict[str, str] = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.commands_map))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._load(name)

    def _load(self, name: str) -> click.Command | None:
        target = self.commands_map.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="EARWITNESS_HOME", type=click.Path(file_okay=False),
              help="Data home (store, index, media, evidence). Default: ./var or EARWITNESS_HOME.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="earwitness")
def main(home: str | None, verbose: int) -> None:
    """Earwitness: find protected music used without permission."""
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    settings.configure(home)


if __name__ == "__main__":
    main()
