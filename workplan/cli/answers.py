"""`workplan report`: the focal points' report links and digest choices, as the secretariat
manages them (revoke the links, pause or resume a digest, set the language a party reads)."""

from __future__ import annotations

import click

from ..i18n import LANGUAGES, _, ngettext
from ..project import Project
from .app import pass_project


@click.group()
def report() -> None:
    """The report links in each party's digest, and the choices parties make on their report page.

    Each digest brings a party a fresh link to its report page (and, with reply.address set, a
    reply address) valid for report.link_days. `workplan digest --status` shows what each party
    chose; these commands override it."""


@report.command("revoke")
@click.argument("party")
@pass_project
def revoke(app: Project, party: str) -> None:
    """End every report link and reply address of PARTY at once (a link forwarded by mistake);
    its next digest brings a new one."""
    from .. import jobs

    count = jobs.revoke_report_links(app, party)
    click.echo((ngettext("{party}: {count} report link revoked; it now answers 404 and replies to it are held",
                         "{party}: {count} report links revoked; they now answer 404 and replies to them are held",
                         count)
                if count else _("{party}: no live report link to revoke")).format(party=party, count=count))


@report.command("pause")
@click.argument("party")
@pass_project
def pause(app: Project, party: str) -> None:
    """Pause PARTY's weekly digest (as its one-click unsubscribe does) until resumed."""
    _set(app, party, paused=True)


@report.command("resume")
@click.argument("party")
@pass_project
def resume(app: Project, party: str) -> None:
    """Send PARTY's weekly digest again."""
    _set(app, party, paused=False)


@report.command("language")
@click.argument("party")
@click.argument("lang", type=click.Choice([*LANGUAGES, "default"]))
@pass_project
def language(app: Project, party: str, lang: str) -> None:
    """Set the language PARTY's digest and report page are in; `default` goes back to the actions file's."""
    _set(app, party, lang="" if lang == "default" else lang)


def _set(app: Project, party: str, *, paused: bool | None = None, lang: str | None = None) -> None:
    from .. import jobs

    pref = jobs.set_digest_preference(app, party, paused=paused, lang=lang)
    state = _("paused") if pref.digest_paused else _("sent weekly")
    click.echo(_("{party}: digest {state}; language {lang}").format(
        party=party, state=state, lang=pref.lang or _("as in the actions file")))


COMMANDS = (report,)
