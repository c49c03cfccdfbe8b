"""Verbs on background jobs. They flush, never commit: the caller (jobs.submit, the runner) owns the transaction.

A job's own state changes (running, done, failed) are the system's bookkeeping, written by the runner
with no actor; the submission is the user's act and is audited.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.audit.operations import record
from models.base import utcnow
from models.delegation.tables import User
from models.enums import JobState
from models.errors import InvalidParameter, NotAllowed
from models.jobs.tables import BackgroundJob

MAX_TITLE = 200
MAX_ERROR = 4000


def create_job(session: Session, *, actor: User, kind: str, func_path: str, title: str,
               params: dict | None = None) -> BackgroundJob:
    """A queued job owned by `actor`; audited as job.submitted."""
    if actor is None or not actor.active:
        raise NotAllowed("只有已登录的有效用户可以发起后台任务")
    if not (kind or "").strip() or not (func_path or "").strip():
        raise InvalidParameter("任务类型和执行函数不能为空")
    job = BackgroundJob(owner_id=actor.id, kind=kind.strip()[:40], func_path=func_path.strip(),
                        title=(title or kind).strip()[:MAX_TITLE], params=params or None, state=JobState.QUEUED,
                        progress_done=0)
    session.add(job)
    session.flush()
    record(session, actor=actor, action="job.submitted", object_type="background_job", object_id=job.id,
           sub_delegation_id=None, params={"kind": job.kind, "title": job.title}, to_state=JobState.QUEUED.value)
    return job


def start_job(session: Session, job_id: int, *, now: datetime | None = None) -> bool:
    """queued -> running; False when the job is not queued (already run, or delivered twice by the queue)."""
    started = session.scalar(update(BackgroundJob)
                             .where(BackgroundJob.id == job_id, BackgroundJob.state == JobState.QUEUED.value)
                             .values(state=JobState.RUNNING.value, started_at=now or utcnow())
                             .returning(BackgroundJob.id).execution_options(synchronize_session=False))
    return started is not None


def record_progress(session_or_connection, job_id: int, done: int, total: int | None) -> None:
    """How far a running job got (written from its own short transaction, so others see it while it works)."""
    session_or_connection.execute(update(BackgroundJob)
                                  .where(BackgroundJob.id == job_id, BackgroundJob.state == JobState.RUNNING.value)
                                  .values(progress_done=max(0, int(done)),
                                          progress_total=None if total is None else max(0, int(total)))
                                  .execution_options(synchronize_session=False))


def finish_job(session: Session, job_id: int, *, done: int, total: int | None, summary: str | None = None,
               result_file: str | None = None, result_name: str | None = None,
               now: datetime | None = None) -> None:
    """running -> done, in the same transaction as the job's work: both are kept, or neither."""
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id)
                    .values(state=JobState.DONE.value, progress_done=max(0, done),
                            progress_total=total if total is not None else max(0, done),
                            summary=summary, result_file=result_file, result_name=result_name, error=None,
                            finished_at=now or utcnow())
                    .execution_options(synchronize_session=False))
    session.flush()


def fail_job(session: Session, job_id: int, *, error: str, done: int = 0, total: int | None = None,
             now: datetime | None = None) -> None:
    """-> failed with the reason in words; nothing of the job's work was kept (the caller rolled it back)."""
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id)
                    .values(state=JobState.FAILED.value, error=(error or "未知错误")[:MAX_ERROR],
                            progress_done=max(0, done), progress_total=total, result_file=None, result_name=None,
                            finished_at=now or utcnow())
                    .execution_options(synchronize_session=False))
    session.flush()


def jobs_of(session: Session, owner: User, *, ids=None, limit: int = 100) -> list[BackgroundJob]:
    """The owner's jobs, newest first; never anyone else's (the page and its JSON read only these)."""
    query = select(BackgroundJob).where(BackgroundJob.owner_id == owner.id)
    if ids is not None:
        query = query.where(BackgroundJob.id.in_([int(i) for i in ids][:limit]))
    return list(session.scalars(query.order_by(BackgroundJob.id.desc()).limit(limit)))


def job_of(session: Session, owner: User, job_id: int) -> BackgroundJob | None:
    """One job if `owner` owns it, else None (a stranger's job id answers like a missing one)."""
    return session.scalar(select(BackgroundJob).where(BackgroundJob.id == job_id,
                                                       BackgroundJob.owner_id == owner.id))
