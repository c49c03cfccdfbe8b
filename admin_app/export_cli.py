"""The export command: any of the five reports as xlsx, limited to the acting user's scope, masked for viewers.

    flask --app admin_app export quota-dashboard --out 配额看板.xlsx --as li
    flask --app admin_app export sub-delegation --sub-delegation guangzhou --out gz.xlsx --as gz
    flask --app admin_app export sub-delegation --all --out workbooks/ --as li         # or --out all.zip
    flask --app admin_app export weekly-progress --week 2025-W41 --out w41.xlsx --as li
    flask --app admin_app export finance --out 对账.xlsx --as finance --lang en
    flask --app admin_app export sub-delegation --all --out all.zip --as li --background   # as a job, with a bar

Exit 0 when written, 1 with a sentence for an unknown user, a sub-delegation outside the user's scope,
a bad week or any other refusal.
"""
from __future__ import annotations

import os
import shutil
import sys

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from admin_app.extensions import db
from jobs.cli import follow
from jobs.runner import results_dir
from models import DomainError, JobState, User
from models.present import database_error_message
from reports.catalog import EXPORTS, run_export
from reports.common import visible_sub_delegations


def register(app: Flask) -> None:
    """Add the export command to the app's CLI."""
    app.cli.add_command(export_command)


def _actor(username: str) -> User:
    actor = db.session.scalar(select(User).where(User.username == username))
    if actor is None or not actor.active:
        raise DomainError(f"用户不存在或已停用：{username}")
    return actor


@click.command("export")
@with_appcontext
@click.argument("kind", type=click.Choice(sorted(EXPORTS)))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=True, writable=True),
              help="The xlsx file to write; with --all a folder, or a .zip file.")
@click.option("--sub-delegation", "code", default=None, help="Only this sub-delegation (its code).")
@click.option("--all", "every", is_flag=True, help="sub-delegation: a workbook for every sub-delegation in scope.")
@click.option("--week", default=None, help="weekly-progress: the ISO week, e.g. 2025-W41 (default: this week).")
@click.option("--as", "username", required=True, help="The acting user: the export shows what they may see.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Headers and labels.")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="--all: worker processes (default: one per processor core).")
@click.option("--background", is_flag=True,
              help="Run as a job of --as (RQ when REDIS_URL is set), follow its bar, copy its file to --out.")
def export_command(kind, out, code, every, week, username, lang, processes, background):
    """Write an export as xlsx: sub-delegation, quota-dashboard, weekly-progress, finance, deal-intentions."""
    try:
        if code and every:
            raise DomainError("--sub-delegation 与 --all 只能选一个")
        if week and kind != "weekly-progress":
            raise DomainError("--week 只用于 weekly-progress")
        if background:
            _export_as_job(kind, out, code, every, week, username, lang)
            return
        actor = _actor(username)
        count = len(visible_sub_delegations(db.session, actor)) if every else 0
        # The export reads its own snapshot (the actor again, by id): hold nothing open here meanwhile.
        db.session.expunge(actor)
        db.session.rollback()
        if kind == "sub-delegation" and every:
            with click.progressbar(length=count, label="正在导出各交易分团工作簿", file=sys.stderr) as bar:
                written = run_export(db.engine, kind, out, actor=actor, lang=lang, every=True, processes=processes,
                                     on_done=lambda done: bar.update(1))
        else:
            written = run_export(db.engine, kind, out, actor=actor, lang=lang, code=code, week=week)
    except (DomainError, SQLAlchemyError, OSError) as exc:
        db.session.rollback()
        message = database_error_message(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        click.echo(f"错误：{message}", err=True)
        sys.exit(1)
    for name, rows in written.sheets.items():
        click.echo(f"{name}\t{rows}")
    click.echo(f"已导出：{', '.join(written.files) or out}")


def _export_as_job(kind, out, code, every, week, username, lang) -> None:
    """The export as a background job, followed by a bar; its result file copied to --out."""
    from jobs.exports import submit_export

    if every and not out.lower().endswith(".zip"):
        raise DomainError("--background 与 --all 一起使用时，--out 须为 .zip 文件")
    actor = _actor(username)
    db.session.rollback()
    job_id = submit_export(actor, kind, name=os.path.basename(out), lang=lang, code=code, every=every, week=week)
    job = follow(db.engine, job_id)
    if job.state is JobState.FAILED:
        raise DomainError(job.error or "任务失败")
    shutil.copyfile(results_dir() / job.result_file, out)
    click.echo(job.summary or "")
    click.echo(f"已导出：{out}")
