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

from earwitness import __version__, settings

# name -> "module:click object"; the whole command tree in one place
COMMANDS: dict[str, str] = {
    "catalog": "matchers.commands:catalog",
    "match": "matchers.commands:match",
    "index": "matchers.commands:index",
    "crawl": "crawler.commands:crawl",
    "live": "crawler.commands:live",
    "detections": "crawler.commands:detections",
    "fixtures": "fixtures.commands:fixtures",
    "review": "notices.commands:review",
    "cases": "notices.commands:cases",
    "notices": "notices.commands:notices",
    "evidence": "notices.commands:evidence",
    "report": "notices.commands:report",
    "daemon": "earwitness.daemon_commands:daemon",
    "status": "earwitness.daemon_commands:status",
    "demo": "earwitness.demo:demo",
    "bench": "earwitness.bench:bench",
    "es": "earwitness.elastic.commands:es",
    "kibana": "earwitness.elastic.commands:kibana",
    "serve": "webapp.commands:serve",
    "users": "webapp.commands:users",
}


class LazyGroup(click.Group):
    """A group whose subcommands live in other modules, imported when called."""

    commands_map: dict[str, str] = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {n for n in self.commands_map if self._load(n)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._load(name)

    def _load(self, name: str) -> click.Command | None:
        target = self.commands_map.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # that part of the system is not installed in this checkout
            raise
        return getattr(module, attr, None)


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
