"""The review web app wired to the stages: its services, and ``earwitness serve`` on gunicorn.

gunicorn, not waitress: the app cuts audio with ffmpeg and checks scrypt
passwords, both CPU- and memory-heavy; gunicorn's pre-forked worker processes
use every core (one Python process under waitress shares one GIL), a worker that
leaks or hangs past ``timeout_s`` is replaced, and SIGTERM drains requests in
flight. Earwitness runs on Linux, where gunicorn is at home.
"""

from __future__ import annotations

import click

from earwitness.app import jobs, matching
from earwitness.kernel import settings
from notices import cases, evidence, export, ledger, letters, lifecycle, review
from notices.exceptions import NoticesError
from webapp.services import Services


def services() -> Services:
    """The notices stage's operations, the matcher's alignment picture and the crawler canary's
    site rows, for the web app."""
    return Services(review=review, cases=cases, lifecycle=lifecycle, evidence=evidence, ledger=ledger,
                    letters=letters, export=export, error=NoticesError, alignment=matching.alignment,
                    site_checks=_site_checks, live_coverage=_live_coverage, job_runs=jobs.last_runs_in)


def _site_checks(session) -> dict:
    from crawler import canary
    return canary.with_pauses(canary.latest(session))


def _live_coverage(session, hours: float) -> dict:
    from crawler import live_store
    return live_store.coverage_from(session, hours=hours)


def _gunicorn_app(options: dict):
    """A gunicorn application whose workers each build the app (own store connections) after the fork."""
    from gunicorn.app.base import BaseApplication

    class ReviewApp(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from webapp import create_app
            return create_app(services=services())

    return ReviewApp()


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default: webapp.host, 127.0.0.1).")
@click.option("--port", "-p", type=int, default=None, help="Port (default: webapp.port, 8650).")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: webapp.workers).")
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Threads per worker (default: webapp.threads).")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve the review web app with gunicorn (login with an account from `earwitness users add`).

    Put a TLS reverse proxy in front for anything but 127.0.0.1 (docs/webapp.md).
    """
    from webapp import secrets_file
    s = settings.get()
    conf = s.section("webapp")
    host = host or conf["host"]
    port = int(port if port is not None else conf["port"])
    workers = workers or int(conf["workers"])
    threads = threads or int(conf["threads"])
    # made once, before the fork, so every worker signs with the same key
    secrets_file.load_or_create(conf["secret_key"] or None, s.path(conf["secret_key_file"]))
    from earwitness.kernel.store import open_store
    open_store().dispose()   # migrate the store once, here, not in every worker at once; no pooled fd forks
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "gthread" if threads > 1 else "sync",
               "timeout": int(float(conf["timeout_s"])), "graceful_timeout": 30,
               "accesslog": "-", "errorlog": "-", "loglevel": "info", "proc_name": "earwitness-review",
               # the proxy's X-Forwarded-* headers are trusted by the app's ProxyFix (webapp.proxy_count)
               "forwarded_allow_ips": "127.0.0.1"}
    click.echo(f"earwitness: review app on http://{host}:{port}/ with {workers} workers x {threads} threads "
               f"(data home {s.home}); Ctrl-C or SIGTERM stops", err=True)
    _gunicorn_app(options).run()
