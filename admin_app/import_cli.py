"""The import command: one spreadsheet into the database, all rows or none, with a progress bar.

    flask --app admin_app import registration 批量注册.xlsx --as gz [--dry-run] [--report 错误报告.xlsx]
    flask --app admin_app import registration 批量注册.xlsx --as gz --background   # as a job, followed by a bar
    flask --app admin_app import-template registration --out 模板.xlsx [--lang en]

Exit 0: imported (or, with --dry-run, valid). Exit 2: the file had errors; nothing was written and the error
report is written next to the file (or to --report) and its path printed. Exit 1: the command could not run
(unknown user, a role that may not import this kind, a file that cannot be opened).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin_app.extensions import db
from importers import IMPORTERS, Progress, run_import
from importers.problems import pick
from importers.templates import template
from jobs.cli import follow
from jobs.runner import results_dir
from models import DomainError, JobState, User

EXIT_FILE_ERRORS = 2


def register(app: Flask) -> None:
    """Add the import commands to the app's CLI."""
    for command in (import_command, import_template_command):
        app.cli.add_command(command)


class BarProgress(Progress):
    """One click progress bar per stage of the import, on stderr."""

    def __init__(self, lang: str):
        self.lang, self.bar = lang, None

    def stage(self, label, total: int) -> None:
        self.close()
        self.bar = click.progressbar(length=max(total, 1), label=pick(label, self.lang), file=sys.stderr)
        self.bar.__enter__()

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None and steps:
            self.bar.update(steps)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _actor(username: str) -> User:
    actor = db.session.scalar(select(User).where(User.username == username)
                              .options(joinedload(User.sub_delegations)))
    if actor is None:
        raise DomainError(f"用户不存在：{username}")
    return actor


@click.command("import")
@with_appcontext
@click.argument("kind", type=click.Choice(list(IMPORTERS)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", required=True, help="The acting user; the import runs within their role and scope.")
@click.option("--dry-run", is_flag=True, help="Validate only: nothing is written.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the error report (default: next to the file).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the messages and the error report.")
@click.option("--background", is_flag=True,
              help="Queue the import as a job of --as (RQ when REDIS_URL is set) and follow it with a progress bar.")
def import_command(kind, file, username, dry_run, report_path, lang, background):
    """Import FILE (xlsx or csv) as KIND: targets, quotas, registration, review or payments."""
    if background:
        _import_as_job(kind, file, username, dry_run, report_path, lang)
        return
    progress = BarProgress(lang)
    try:
        result = run_import(db.session, kind, file.read_bytes(), file.name, actor=_actor(username), lang=lang,
                            dry_run=dry_run, progress=progress)
    except DomainError as exc:
        db.session.rollback()
        progress.close()
        click.echo(f"{pick(('错误', 'Error'), lang)}：{exc}", err=True)
        sys.exit(1)
    progress.close()
    for line in result.summary(lang):
        click.echo(line)
    if result.ok:
        sys.exit(0)
    for problem in result.file_problems():
        click.echo(f"  {problem.text(lang)}", err=True)
    path = _report_path(file, report_path, lang)
    path.write_bytes(result.report)
    click.echo(pick((f"错误报告：{path}", f"Error report: {path}"), lang))
    sys.exit(EXIT_FILE_ERRORS)


def _report_path(file: Path, report_path: Path | None, lang: str) -> Path:
    return report_path or file.with_name(f"{file.stem}{pick(('-错误报告', '-errors'), lang)}.xlsx")


def _import_as_job(kind, file: Path, username, dry_run, report_path, lang) -> None:
    """The import as a background job: same exit codes; the error report copied out of the job's result."""
    from jobs.imports import submit_import

    try:
        actor = _actor(username)
        db.session.rollback()
        job_id = submit_import(actor, kind, file.read_bytes(), file.name, lang=lang, dry_run=dry_run)
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"{pick(('错误', 'Error'), lang)}：{exc}", err=True)
        sys.exit(1)
    job = follow(db.engine, job_id)
    if job.state is JobState.FAILED:
        click.echo(f"{pick(('错误', 'Error'), lang)}：{job.error}", err=True)
        sys.exit(1)
    for line in (job.summary or "").split("；"):
        click.echo(line)
    if not job.result_file:
        sys.exit(0)
    path = _report_path(file, report_path, lang)
    shutil.copyfile(results_dir() / job.result_file, path)
    click.echo(pick((f"错误报告：{path}", f"Error report: {path}"), lang))
    sys.exit(EXIT_FILE_ERRORS)


@click.command("import-template")
@with_appcontext
@click.argument("kind", type=click.Choice(list(IMPORTERS)))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def import_template_command(kind, out, lang):
    """Write the import template of KIND (headers, a sample row, dropdowns) to --out."""
    out.write_bytes(template(IMPORTERS[kind], lang))
    click.echo(str(out))
