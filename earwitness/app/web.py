"""The review web app wired to the stages: its services, and ``earwitness serve``."""

from __future__ import annotations

import signal
import threading

import click

from earwitness.app import matching
from earwitness.kernel import settings
from notices import cases, evidence, export, ledger, letters, lifecycle, review
from notices.exceptions import NoticesError
from webapp.services import Services


def services() -> Services:
    """The notices stage's operations and the matcher's alignment picture, for the web app."""
    return Services(review=review, cases=cases, lifecycle=lifecycle, evidence=evidence, ledger=ledger,
                    letters=letters, export=export, error=NoticesError, alignment=matching.alignment)


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default: webapp.host, 127.0.0.1).")
@click.option("--port", "-p", type=int, default=None, help="Port (default: webapp.port, 8650).")
@click.option("--threads", type=int, default=8, show_default=True, help="Worker threads.")
def serve(host: str | None, port: int | None, threads: int) -> None:
    """Serve the review web app (login with an account from `earwitness users add`)."""
    from werkzeug.serving import make_server

    from webapp import create_app
    conf = settings.get().section("webapp")
    host = host or conf.get("host", "127.0.0.1")
    port = int(port if port is not None else conf.get("port", 8650))
    app = create_app(services=services())
    server = make_server(host, port, app, threaded=True)
    server.daemon_threads = True
    click.echo(f"earwitness: review app on http://{host}:{server.port}/ (data home {settings.get().home}); Ctrl-C stops",
               err=True)
    # SIGTERM (a service manager stopping it) ends the loop like Ctrl-C: requests in flight finish
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


