"""`workplan serve` (the feed server and status board) and `workplan feeds token` (private feeds)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import click

from ..i18n import _
from ..project import Project
from .app import pass_project
from .params import as_of_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface; put TLS in front of it).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--no-scheduler", is_flag=True,
              help="Serve only; run no scheduled jobs (for every process but one, when several serve one database).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Requests answered at once.")
@as_of_option
@pass_project
def serve(app: Project, host: str, port: int, no_scheduler: bool, threads: int, as_of: str | None) -> None:
    """Serve the status board, the calendar feeds and the next virtual meeting's agenda over HTTP.

    Routes: / (status board), /calendars/NAME.ics (all, meetings, PARTY), /feeds/TOKEN.ics (a
    party's private feed; see `workplan feeds token`), /agenda/next-virtual, /healthz. Feeds are
    rendered once per change of the data and answer conditional requests with 304. The server
    speaks plain HTTP: put a TLS proxy in front of it for anything but loopback.
    """
    from waitress.server import create_server

    from ..queries import group_info
    from ..web import WorkplanApp

    with app.session() as session:  # syncs a changed actions file first (embedded database)
        group = group_info(session)
    wsgi = WorkplanApp(app.settings, app.engine, as_of=as_of, debug=app.debug)
    server: Any = create_server(
        wsgi, host=host, port=port, threads=threads, ident="workplan",
        # this application reads no request bodies and needs no long headers
        max_request_header_size=32 * 1024, max_request_body_size=64 * 1024,
        channel_timeout=60, connection_limit=200, clear_untrusted_proxy_headers=True,
    )
    scheduler = None
    if not no_scheduler:
        scheduler = _start_scheduler(app)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    shown = f"[{server.effective_host}]" if ":" in str(server.effective_host) else server.effective_host
    how = _("no scheduler") if scheduler is None else _("with the scheduler")
    if as_of:
        how += _(", as of {day}").format(day=as_of)
    click.echo(_("workplan: serving {group} on {url} ({how}); Ctrl-C stops").format(
        group=group.name, url=f"http://{shown}:{server.effective_port}/", how=how), err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    click.echo(_("workplan: server stopped"), err=True)


def _start_scheduler(app: Project) -> Any:
    """The weekly digest and the rebuild of calendars/, in this process (see workplan.scheduler)."""
    from ..scheduler import start_background

    return start_background(app)


@click.group("feeds")
def feeds() -> None:
    """Private calendar feeds: one secret URL per party, showing its restricted actions too."""


@feeds.command("token")
@click.argument("party", metavar="PARTY")
@click.option("--rotate", is_flag=True, help="Issue a new token; the party's old URL stops working at once.")
@click.option("--revoke", is_flag=True, help="Revoke the party's token; its URL stops working at once.")
@pass_project
def token(app: Project, party: str, rotate: bool, revoke: bool) -> None:
    """Issue the private feed URL of PARTY and print it, once (only a hash of it is kept).

    The URL is built from the server.base_url setting, as webcal:// (calendar apps subscribe
    to it) and https://. Anyone holding it reads the party's feed: send it privately.
    """
    from .. import tokens

    if rotate and revoke:
        raise click.UsageError(_("choose --rotate or --revoke, not both"))
    now = app.now()
    with app.session(write=True) as session:
        if revoke:
            count: int = app.write(session, lambda: tokens.revoke(session, party, now))
        else:
            issued: tokens.Issued = app.write(session, lambda: tokens.issue(session, party, now, rotate=rotate))
    if revoke:
        click.echo((_("{party}: private feed token revoked; its URL now answers 404") if count
                    else _("{party}: no private feed token to revoke")).format(party=party))
        return
    base = app.settings.get("server.base_url")
    webcal, web = tokens.subscription_urls(base, issued.token)
    replaced = _(" (the previous URL no longer works)") if issued.revoked else ""
    click.echo(_("Private feed of {party}{replaced}. It is shown only this once; send it privately:").format(
        party=party, replaced=replaced))
    click.echo(f"  {webcal}")
    click.echo(f"  {web}")
    if web.startswith("http://") and not _loopback(web):
        click.echo(_("workplan: warning: server.base_url is http://; the token travels in the URL, so serve it "
                     "behind TLS and set server.base_url to https://…"), err=True)


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("localhost", "127.0.0.1", "::1")


COMMANDS = (serve, feeds)
