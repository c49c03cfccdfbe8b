"""Commands of the outbox and the jobs:

    flask --app admin_app send-outbox                 # one pass: deliver up to --batch due messages, then exit
    flask --app admin_app send-outbox --loop          # the `outbox` process of the Procfile: pass after pass
    flask --app admin_app send-outbox --background --as secretariat   # as a job (RQ or inline), with a bar
    flask --app admin_app job-wait 12                 # a progress bar until job 12 is done or failed

Exit 0 when done, 1 on an error (a failed job, an unknown user).
"""
from __future__ import annotations

import signal
import time

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from admin_app.extensions import db
from delivery.sender import deliver_pending
from jobs.cli import echo_outcome, follow
from models import DomainError, User


def register(app: Flask) -> None:
    for command in (send_outbox_command, job_wait_command):
        app.cli.add_command(command)


@click.command("send-outbox")
@with_appcontext
@click.option("--loop", is_flag=True, help="Keep sending until stopped (SIGTERM/SIGINT end it after the current message).")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1), help="Messages per pass.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait when nothing is due (--loop).")
@click.option("--background", is_flag=True, help="Run as a background job owned by --as, and follow it.")
@click.option("--as", "username", default=None, help="The job's owner (secretariat), with --background.")
def send_outbox_command(loop, batch, interval, background, username):
    """Deliver pending outbox messages: e-mail through Flask-Mailman, SMS through SMS_BACKEND."""
    if background:
        _send_as_job(username, batch)
        return
    stop = _stop_on_signals()
    while True:
        tally = deliver_pending(db.engine, limit=batch)
        if tally.handled or not loop:
            click.echo(tally.words())
        if not loop or stop():
            return
        if tally.handled < batch:  # nothing more due: wait before the next pass
            _sleep(interval, stop)
            if stop():
                return


@click.command("job-wait")
@with_appcontext
@click.argument("job_id", type=int)
@click.option("--timeout", default=None, type=float, help="Give up after this many seconds.")
def job_wait_command(job_id, timeout):
    """Show a progress bar until a background job is done or failed."""
    echo_outcome(follow(db.engine, job_id, timeout=timeout))


def _send_as_job(username: str | None, batch: int) -> None:
    from jobs.send_outbox import submit_send_outbox

    if not username:
        raise click.UsageError("--background 需要 --as 用户名（任务的发起人）")
    owner = db.session.scalar(select(User).where(User.username == username))
    if owner is None:
        raise click.ClickException(f"用户不存在：{username}")
    try:
        job_id = submit_send_outbox(owner, batch=batch)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    echo_outcome(follow(db.engine, job_id))


def _stop_on_signals():
    """A flag set by SIGTERM/SIGINT, so a supervisor's stop ends the loop between two messages."""
    stopped = []

    def handler(signum, frame):
        stopped.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return lambda: bool(stopped)


def _sleep(seconds: float, stop) -> None:
    end = time.monotonic() + seconds
    while not stop() and time.monotonic() < end:
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))
