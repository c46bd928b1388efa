"""The ``earwitness`` command: glue only; each package owns its commands.

Subcommands are imported on first use (``COMMANDS`` maps a name to ``module:attribute``
and a one-line summary), so ``earwitness --help`` lists them without importing any, and
one package's import cost (Scrapy, Playwright, the matcher) is paid only by the commands
that need it. The global options (``--home``, ``-v``, ``-q``) are accepted before or after
the subcommand; an unknown subcommand is answered with the nearest names.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import sys

import click

from earwitness import __version__

# name -> ("module:click object", one-line summary for --help); the whole command tree in one place
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("earwitness.app.matcher_commands:catalog", "The protected catalog: import, add, list, remove works."),
    "match": ("earwitness.app.matcher_commands:match", "Say which catalog work is inside each audio file."),
    "index": ("earwitness.app.matcher_commands:index", "Maintain the fingerprint index (compact, rebuild)."),
    "crawl": ("earwitness.app.crawl_commands:crawl", "Crawl one site, fetch new clips and match them."),
    "login": ("earwitness.app.site_commands:login", "Keep a site's login (cookies.txt or QR) for crawling."),
    "sites": ("earwitness.app.site_commands:sites", "The configured sites: `sites check` probes each (canary)."),
    "live": ("earwitness.app.crawl_commands:live", "Sample live rooms and match what they play."),
    "detections": ("earwitness.app.crawl_commands:detections", "Detections found by matching crawled clips."),
    "fixtures": ("fixtures.commands:fixtures", "The local fixture platform (build, serve)."),
    "review": ("notices.commands:review", "Review detections: confirm (opens a case) or reject."),
    "cases": ("notices.commands:cases", "Cases: list, show, and one command per lifecycle event."),
    "notices": ("notices.commands:notices", "Notice letters: draft, export, record sending."),
    "evidence": ("notices.commands:evidence", "Evidence bundles and the hash-chained ledger."),
    "report": ("notices.commands:report", "Reports computed from the case records."),
    "daemon": ("earwitness.app.daemon_commands:daemon", "Run the scheduled jobs (or every job once)."),
    "status": ("earwitness.app.daemon_commands:status", "The data home, each job's last and next run, the backlog."),
    "demo": ("earwitness.app.demo:demo", "Run the whole system once on the local fixture platform."),
    "bench": ("earwitness.app.bench:bench", "Measure matcher accuracy and speed, catalog scale, crawling."),
    "es": ("earwitness.app.elastic.commands:es", "The Elasticsearch mirror: sync, status, reindex."),
    "kibana": ("earwitness.app.elastic.commands:kibana", "Load the Kibana saved objects."),
    "serve": ("earwitness.app.web:serve", "Serve the review web app."),
    "workers": ("earwitness.app.worker_commands:workers", "Worker processes: matcher workers on the match queue."),
    "users": ("webapp.commands:users", "Accounts of the review web app."),
    "config": ("earwitness.app.config_commands:config", "The effective settings and where each came from."),
    "completion": ("earwitness.app.config_commands:completion", "Print the shell completion script (bash, zsh, fish)."),
}

# options of the top-level command that may also be written after the subcommand
GLOBAL_FLAGS = {"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"}
GLOBAL_VALUED = {"--home"}
# subcommands that use one of the short global flags for something of their own
OWN_SHORT_FLAGS = {"crawl": {"-q"}}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options written after the subcommand to the front (``--`` ends the search)."""
    front, rest, subcommand, i = [], [], None, 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0]
        takes_value = name in GLOBAL_VALUED and "=" not in arg
        if subcommand is None:
            rest += args[i:i + 2] if takes_value else [arg]
            if not arg.startswith("-"):
                subcommand = arg
        elif arg in GLOBAL_FLAGS and arg not in OWN_SHORT_FLAGS.get(subcommand, ()):
            front.append(arg)
        elif name in GLOBAL_VALUED:
            front += args[i:i + 2] if takes_value else [arg]
        else:
            rest.append(arg)
        i += 2 if takes_value else 1
    return front + rest


class LazyGroup(click.Group):
    """A group whose subcommands live in other modules, imported when called.

    ``commands_map`` values are ``"module:attr"`` or ``("module:attr", "summary")``; the summary
    is what ``--help`` shows, so listing the commands imports none of them.
    """

    commands_map: dict[str, str | tuple[str, str]] = COMMANDS

    def _target(self, name: str) -> str | None:
        entry = self.commands_map.get(name)
        return entry[0] if isinstance(entry, tuple) else entry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.commands_map))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._load(name)

    def _load(self, name: str) -> click.Command | None:
        target = self._target(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            entry = self.commands_map.get(name)
            if isinstance(entry, tuple):
                rows.append((name, entry[1]))
            else:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(formatter.width - 6 - max(map(len, self.commands_map)))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} (earwitness --help lists them)")
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        """Run the command; a full disk, a read-only data home or an unreachable store, whichever
        command met it, ends in one line naming the path and what to do (exit 1), not a traceback."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.parent is not None:
                raise
            from earwitness.app.env_errors import one_line
            line = one_line(exc)
            if line is None:
                raise
            raise click.ClickException(line) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="EARWITNESS_HOME", type=click.Path(file_okay=False),
              help="Data home (store, index, media, evidence). Default: EARWITNESS_HOME, else `home` in "
                   "the settings (~/.local/share/earwitness). `earwitness status` shows which is used.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they are drawn only on a terminal anyway).")
@click.version_option(__version__, prog_name="earwitness")
@click.pass_context
def main(ctx: click.Context, home: str | None, verbose: int, quiet: bool) -> None:
    """Earwitness: find protected music used without permission.

    Global options may come before or after the command. Lists print tables; --json
    and --format csv give the same records to programs (README, "Output").
    """
    from earwitness.app import progress, sections  # noqa: F401  (every section typed before loading)
    from earwitness.kernel import settings
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    progress.set_quiet(quiet)
    ctx.meta["earwitness.home_option"] = ctx.get_parameter_source("home"), home
    try:
        settings.configure(home)
    except settings.SettingsError as exc:   # a typo'd key, a wrong type, malformed YAML: one clear message
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
