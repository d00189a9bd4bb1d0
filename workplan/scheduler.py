"""APScheduler wiring only: the weekly digest, the rebuild of calendars/, and the polling of the
IMAP mailbox of replies (when ``inbox.imap.host`` is set).

APScheduler 3 keeps its jobs pickled in the project database (SQLAlchemyJobStore, table
``apscheduler_jobs``), so each job is a module-level function named by its textual reference and
given plain arguments: where the project is. Each run opens the project afresh (settings,
database, automatic sync) exactly as a command would.

Job ids are fixed and jobs are added with ``replace_existing``; when the schedule did not change,
or the stored next run time has passed, that time is kept, so that a fire time missed while no
process was running is made up for on start (``coalesce``: once, however many were missed;
``misfire_grace_time``: up to 12 hours late), instead of being skipped by the replacement, even
when ``digest.schedule`` was changed meanwhile.

APScheduler 3 does not share a job store between running schedulers: run one scheduler process
(`workplan scheduler`, or `workplan serve` without --no-scheduler). If two run anyway, both send,
and the send log still lets each digest out only once per recipient and week.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import timeutil
from .errors import ConfigError, WorkplanError
from .i18n import _

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from .project import Project

log = logging.getLogger("workplan.scheduler")

DIGEST_JOB = "workplan-weekly-digest"
CALENDARS_JOB = "workplan-calendars"
INBOX_JOB = "workplan-inbox-fetch"
MISFIRE_GRACE_SECONDS = 12 * 3600
CALENDARS_EVERY_SECONDS = 300

_DAYS = {"mon": "mon", "monday": "mon", "tue": "tue", "tuesday": "tue", "wed": "wed", "wednesday": "wed",
         "thu": "thu", "thursday": "thu", "fri": "fri", "friday": "fri", "sat": "sat", "saturday": "sat",
         "sun": "sun", "sunday": "sun", "daily": "*", "*": "*"}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_schedule(text: str, tz: ZoneInfo) -> CronTrigger:
    """``mon 08:00``, ``monday 08:00:30``, ``mon,thu 08:00``, ``daily 08:00``, or a five-field
    crontab line (``0 8 * * mon``), in the group's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    words = text.split()
    if len(words) == 5:
        try:
            return CronTrigger.from_crontab(text, timezone=tz)
        except ValueError as exc:
            raise ConfigError(_("digest.schedule {value!r} is not a valid crontab line ({error})").format(
                value=text, error=exc)) from None
    if len(words) == 2:
        days = [_DAYS.get(d.lower()) for d in words[0].split(",")]
        clock = _TIME.match(words[1])
        if all(days) and clock:
            hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if hour < 24 and minute < 60 and second < 60:
                day_of_week = "*" if "*" in days else ",".join(d for d in days if d)
                return CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, second=second, timezone=tz)
    raise ConfigError(_("digest.schedule {value!r} is not understood: write a day and a time such as "
                        "'mon 08:00' (or 'daily 08:00', 'mon,thu 08:00'), or a crontab line such as '0 8 * * mon'")
                      .format(value=text))


# ---------------------------------------------------------------------------
# the jobs: module-level functions with plain arguments, since APScheduler pickles them


def _open(where: dict[str, str | None]) -> Project:
    from .project import Project

    return Project.at(where, warn=log.warning)


def send_weekly_digests(project: dict[str, str | None]) -> None:
    """Every party's digest for the current week, each at most once (the send log decides)."""
    from . import jobs

    app = _open(project)
    try:
        outcomes = jobs.send_digests(app, report=lambda o: log.info("digest %s %s: %s: %s", o.period, o.party,
                                                                    o.status, o.detail))
        trouble = [o.party for o in outcomes if o.trouble]
        if trouble:
            log.error("weekly digest: %d of %d not sent (%s); see `workplan digest --status`",
                      len(trouble), len(outcomes), ", ".join(trouble))
    except WorkplanError as exc:
        log.error("weekly digest: %s", exc)
    finally:
        app.close()


_built_from: dict[str, tuple[Any, ...]] = {}


def rebuild_calendars(project: dict[str, str | None]) -> None:
    """Rewrite calendars/ when the data changed since this process last built it."""
    from . import jobs

    app = _open(project)
    try:
        # as `workplan calendars` writes them: each party's feed in its language
        written = jobs.rebuild_calendars(app, built=_built_from)
        if written is not None:
            log.info("calendars: %d of %d feeds written to %s", len(written.changed), written.total,
                     app.settings.calendars_dir)
    except WorkplanError as exc:
        log.error("calendars: %s", exc)
    finally:
        app.close()


def fetch_replies(project: dict[str, str | None]) -> None:
    """`workplan inbox fetch`: the replies in the IMAP mailbox, each recorded once, and the confirmations owed."""
    from . import jobs

    app = _open(project)
    try:
        fetched = jobs.fetch_replies(app)
        if fetched.handled:
            log.info("inbox: %d messages fetched (%s)", len(fetched.handled),
                     ", ".join(f"{h.message_id} {'already processed' if h.duplicate else h.status}"
                               for h in fetched.handled))
        if fetched.confirm_error:
            log.error("inbox: confirmations not sent, kept for the next run: %s", fetched.confirm_error)
    except WorkplanError as exc:
        log.error("inbox fetch: %s", exc)
    finally:
        app.close()


# ---------------------------------------------------------------------------
# wiring


def _install_jobs(scheduler: Any, app: Project, tz: ZoneInfo) -> None:
    trigger = parse_schedule(app.settings.get("digest.schedule"), tz)
    args = [app.where()]
    digest: dict[str, Any] = {}
    existing = scheduler.get_job(DIGEST_JOB)
    if existing is not None and existing.next_run_time is not None and (
            repr(existing.trigger) == repr(trigger) or existing.next_run_time <= timeutil.now_utc().astimezone(tz)):
        # keep a fire time that passed while no scheduler ran: it is made up for now, even when the
        # schedule changed meanwhile (the new one takes over after it; the send log keeps it to
        # one digest a week). A fire time still to come follows a changed schedule.
        digest["next_run_time"] = existing.next_run_time
    scheduler.add_job(f"{__name__}:send_weekly_digests", trigger, args=args, id=DIGEST_JOB,
                      name="weekly digest", replace_existing=True, coalesce=True,
                      misfire_grace_time=MISFIRE_GRACE_SECONDS, max_instances=1, **digest)
    scheduler.add_job(f"{__name__}:rebuild_calendars", "interval", seconds=CALENDARS_EVERY_SECONDS, args=args,
                      id=CALENDARS_JOB, name="calendars rebuild", replace_existing=True, coalesce=True,
                      misfire_grace_time=CALENDARS_EVERY_SECONDS, max_instances=1,
                      next_run_time=timeutil.now_utc().astimezone(tz))
    every = app.settings.int("inbox.fetch_every")
    if every < 0:
        raise ConfigError(_("inbox.fetch_every must be a number of seconds, 0 for never, not {value}").format(
            value=every))
    if app.settings.get("inbox.imap.host").strip() and every:
        scheduler.add_job(f"{__name__}:fetch_replies", "interval", seconds=every, args=args, id=INBOX_JOB,
                          name="inbox fetch", replace_existing=True, coalesce=True, misfire_grace_time=every,
                          max_instances=1, next_run_time=timeutil.now_utc().astimezone(tz))
    elif scheduler.get_job(INBOX_JOB) is not None:  # polling was switched off since
        scheduler.remove_job(INBOX_JOB)


def start_background(app: Project) -> BackgroundScheduler:
    """Start the scheduler in background threads of this process (used by `workplan serve`)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    tz = app.group().tz
    parse_schedule(app.settings.get("digest.schedule"), tz)  # a bad setting stops us before anything starts
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=app.engine)},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
        timezone=tz,
    )
    scheduler.start(paused=True)
    try:
        _install_jobs(scheduler, app, tz)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    job = scheduler.get_job(DIGEST_JOB)
    log.info("scheduler started: weekly digest next at %s (digest.schedule %r, %s)",
             job.next_run_time.isoformat() if job and job.next_run_time else "never",
             app.settings.get("digest.schedule"), tz.key)
    return scheduler


def run_foreground(app: Project) -> None:
    """`workplan scheduler`: run until SIGTERM or SIGINT, then let a running job finish."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler = start_background(app)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
