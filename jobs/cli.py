"""Following a job from the command line: a click progress bar until it is done or failed."""
from __future__ import annotations

import time

import click
from sqlalchemy.orm import Session

from models.enums import JobState
from models.jobs.tables import BackgroundJob

POLL_SECONDS = 0.5


def read_job(engine, job_id: int) -> BackgroundJob | None:
    """The job row as it is now (a short read that takes no write lock)."""
    with Session(engine, execution_options={"sqlite_begin": "DEFERRED"}, expire_on_commit=False) as session:
        return session.get(BackgroundJob, job_id)


def follow(engine, job_id: int, *, timeout: float | None = None, poll: float = POLL_SECONDS) -> BackgroundJob:
    """Show a progress bar for job `job_id` until it ends (or `timeout` seconds pass); the job row as it ended."""
    job = read_job(engine, job_id)
    if job is None:
        raise click.ClickException(f"任务不存在：{job_id}")
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    with click.progressbar(length=max(1, job.progress_total or 1), label=job.title, show_pos=True) as bar:
        while True:
            total = job.progress_total or 0
            if total and bar.length != total:
                bar.length = total
            done = min(job.progress_done or 0, bar.length)
            if done > shown:
                bar.update(done - shown)
                shown = done
            if job.state in (JobState.DONE, JobState.FAILED):
                if job.state is JobState.DONE and shown < bar.length:
                    bar.update(bar.length - shown)
                break
            if deadline is not None and time.monotonic() > deadline:
                raise click.ClickException(f"等待超时：任务 {job_id} 仍为「{job.state.zh}」")
            time.sleep(poll)
            job = read_job(engine, job_id)
    return job


def echo_outcome(job: BackgroundJob) -> None:
    """One line: done with its summary (and result file), or failed with the reason; failure exits 1."""
    if job.state is JobState.FAILED:
        raise click.ClickException(f"任务失败：{job.error}")
    click.echo(f"任务 {job.id} 已完成" + (f"：{job.summary}" if job.summary else ""))
    if job.result_name:
        click.echo(f"结果文件：{job.result_name}（在「我的任务」页面下载）")
