"""`workplan serve` (the feed server and status board) and `workplan feeds token` (private feeds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..i18n import _
from ..project import Project
from .app import pass_project
from .params import as_of_option

if TYPE_CHECKING:
    from ..jobs import PrivateFeed


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
    from .. import jobs

    def started(group: str, url: str, scheduled: bool) -> None:
        how = _("with the scheduler") if scheduled else _("no scheduler")
        if as_of:
            how += _(", as of {day}").format(day=as_of)
        click.echo(_("workplan: serving {group} on {url} ({how}); Ctrl-C stops").format(
            group=group, url=url, how=how), err=True)

    jobs.serve(app, host, port, threads=threads, as_of=as_of, scheduled=not no_scheduler, started=started)
    click.echo(_("workplan: server stopped"), err=True)


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
    from .. import jobs

    if rotate and revoke:
        raise click.UsageError(_("choose --rotate or --revoke, not both"))
    _print_token(jobs.private_feed_token(app, party, rotate=rotate, revoke=revoke), revoke)


def _print_token(result: PrivateFeed, revoked: bool) -> None:
    if revoked:
        click.echo((_("{party}: private feed token revoked; its URL now answers 404") if result.revoked
                    else _("{party}: no private feed token to revoke")).format(party=result.party))
        return
    replaced = _(" (the previous URL no longer works)") if result.revoked else ""
    click.echo(_("Private feed of {party}{replaced}. It is shown only this once; send it privately:").format(
        party=result.party, replaced=replaced))
    click.echo(f"  {result.webcal}")
    click.echo(f"  {result.web}")
    if result.web.startswith("http://") and not _loopback(result.web):
        click.echo(_("workplan: warning: server.base_url is http://; the token travels in the URL, so serve it "
                     "behind TLS and set server.base_url to https://…"), err=True)


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("localhost", "127.0.0.1", "::1")


COMMANDS = (serve, feeds)
