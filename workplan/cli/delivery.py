"""Delivery: digests sent by SMTP through the send log, and the scheduler that sends them weekly.

`workplan digest --send|--status|--mark-sent` are options of the digest command (in
documents.py), which calls the functions here; `workplan scheduler` is a command of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..i18n import _, ngettext
from ..project import Project
from .app import pass_project

if TYPE_CHECKING:
    from ..mail import LogLine, Outcome


def send(app: Project, party: str | None, as_of: str | None, resend_stale: bool) -> None:
    """`workplan digest --send`: each recipient's digest at most once for the period."""
    from .. import jobs

    outcomes = jobs.send_digests(app, party, as_of, resend_stale=resend_stale, report=_report)
    click.echo(_summary(outcomes))
    _fail_on_trouble(outcomes)


def _report(outcome: Outcome) -> None:
    """One line per recipient, as its send ends."""
    word = _status_word(outcome.status)
    word = word.upper() if outcome.trouble else word
    click.echo(f"{outcome.party}: {word}: {outcome.detail}")


def _fail_on_trouble(outcomes: list[Outcome]) -> None:
    """Exit 1 with one sentence when a digest was not sent."""
    from .. import mail

    trouble = [o for o in outcomes if o.trouble]
    if trouble:
        period = outcomes[0].period
        raise mail.SendFailed(
            ngettext("{count} of {total} digests for {period} was not sent ({parties}): {why}",
                     "{count} of {total} digests for {period} were not sent ({parties}): {why}", len(trouble))
            .format(count=len(trouble), total=len(outcomes), period=period,
                    parties=", ".join(o.party for o in trouble), why=_why(trouble)))


def _status_word(status: str) -> str:
    """The status of a send, as the reader's language says it (the JSON keeps the code)."""
    return {"sent": _("sent"), "skipped": _("skipped"), "in progress": _("in progress"), "failed": _("failed"),
            "unconfirmed": _("unconfirmed"), "not attempted": _("not attempted"),
            "not sent": _("not sent"), "sending": _("sending"), "paused": _("paused")}.get(status, status)


def _why(trouble: list[Outcome]) -> str:
    reasons = []
    failed = next((o for o in trouble if o.status == "failed"), None)
    if failed is not None:
        reasons.append(failed.detail)
    unconfirmed = [o.party for o in trouble if o.status == "unconfirmed"]
    if unconfirmed:
        reasons.append(ngettext("{parties} may have arrived and needs a decision (see `workplan digest --status`)",
                                "{parties} may have arrived and need a decision (see `workplan digest --status`)",
                                len(unconfirmed)).format(parties=", ".join(unconfirmed)))
    if failed is None and any(o.status == "not attempted" for o in trouble):
        reasons.append(_("the others go out on the next run"))
    return "; ".join(reasons)


def _summary(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return _("no digest to send")
    period = outcomes[0].period
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    if counts.get("skipped") == len(outcomes):
        return ngettext("nothing sent: the {count} digest for {period} was already sent "
                        "(exactly once per recipient and week)",
                        "nothing sent: the {count} digests for {period} were already sent "
                        "(exactly once per recipient and week)", len(outcomes)).format(
            count=len(outcomes), period=period)
    return f"{period}: " + ", ".join(_counted(status, counts[status]) for status in _ORDER if counts.get(status))


_ORDER = ("sent", "skipped", "paused", "in progress", "failed", "unconfirmed", "not attempted")


def _counted(status: str, count: int) -> str:
    """"20 sent", "1 enviado": a number of digests in one state of the send log."""
    forms = {
        "sent": ngettext("{count} sent", "{count} sent", count),
        "skipped": ngettext("{count} already sent before", "{count} already sent before", count),
        "in progress": ngettext("{count} in progress", "{count} in progress", count),
        "failed": ngettext("{count} failed", "{count} failed", count),
        "unconfirmed": ngettext("{count} unconfirmed", "{count} unconfirmed", count),
        "not attempted": ngettext("{count} not attempted", "{count} not attempted", count),
        "paused": ngettext("{count} paused by its recipient", "{count} paused by their recipients", count),
    }
    return forms.get(status, f"{{count}} {status}").format(count=count)


def status(app: Project, party: str | None, as_of: str | None, fmt: str) -> None:
    """`workplan digest --status`: the send log of the period, one line per recipient."""
    from .. import jobs

    click.echo(_send_log(jobs.digest_status(app, party, as_of), fmt), nl=False)


def _send_log(lines: list[LogLine], fmt: str) -> str:
    """The send log as JSON, or as a table followed by the recipients that need a decision."""
    from ..formatting import dumps, table

    def stamp(moment: object) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""  # type: ignore[attr-defined]

    if fmt == "json":
        return dumps([{
            "party": x.party, "period": x.period, "status": x.status, "to": x.to, "attempts": x.attempts,
            "started_at": x.started_at.isoformat() + "Z" if x.started_at else None,
            "sent_at": x.sent_at.isoformat() + "Z" if x.sent_at else None,
            "error": x.error, "decision_needed": x.decision_needed,
            "digest_paused": bool(x.preference and x.preference.digest_paused),
            "lang": x.preference.lang if x.preference and x.preference.lang else None,
            "preference_set_by": x.preference.updated_by if x.preference else None,
        } for x in lines])
    text = table((_("PARTY"), _("PERIOD"), _("STATUS"), _("TRIES"), _("STARTED (UTC)"), _("SENT (UTC)"),
                  _("NOTE")), [
        (x.party, x.period, _status_word(x.status).upper() if x.decision_needed else _status_word(x.status),
         str(x.attempts) if x.attempts else "",
         stamp(x.started_at), stamp(x.sent_at), "; ".join(filter(None, (x.error, _choice(x)))))
        for x in lines])
    undecided = [x.party for x in lines if x.decision_needed]
    if undecided:
        text += _("NEEDS A DECISION: {parties}: a send was begun and never confirmed, so it may or "
                  "may not have arrived; check, then `workplan digest --party P --mark-sent` (it did) or "
                  "`workplan digest --party P --send --resend-stale` (it did not)").format(
            parties=", ".join(undecided)) + "\n"
    return text


def _choice(x: LogLine) -> str:
    """What a party chose on its report page (or by unsubscribing), or the secretariat set for it."""
    p = x.preference
    if p is None or not (p.digest_paused or p.lang):
        return ""
    said = [_("paused") if p.digest_paused else "", _("reads {lang}").format(lang=p.lang) if p.lang else ""]
    return _("{choices} (set by {by} on {day})").format(choices=", ".join(filter(None, said)), by=p.updated_by,
                                                        day=f"{p.updated_at:%Y-%m-%d}")


def mark_sent(app: Project, party: str | None, as_of: str | None) -> None:
    """`workplan digest --mark-sent`: a person confirmed that unconfirmed digests arrived."""
    from .. import jobs

    period, marked = jobs.mark_digests_sent(app, party, as_of)
    if marked:
        click.echo(_("marked as sent for {period}: {parties}").format(period=period, parties=", ".join(marked)))
    else:
        click.echo(_("no unconfirmed digest for {period} to mark as sent").format(period=period))


@click.command()
@pass_project
def scheduler(app: Project) -> None:
    """Run the scheduler in the foreground: the weekly digest and the calendars rebuild.

    The weekly digest goes out on digest.schedule (default "mon 08:00", in the group's time
    zone) to every party with an address; calendars/ is rebuilt when the data changed. Jobs are
    kept in the project database, so a run missed while the process was down is made up for
    (within 12 hours) when it comes back. Run it in one process only; the send log keeps each
    digest exactly once even if two run. Stops on SIGTERM or Ctrl-C.
    """
    from .. import jobs

    jobs.run_scheduler(app)


COMMANDS = (scheduler,)
