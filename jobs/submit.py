"""submit(): record a job and run it on RQ (REDIS_URL set) or right here (no Redis)."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from models import DomainError, User
from models.jobs.operations import create_job, fail_job

log = logging.getLogger(__name__)
QUEUE_DOWN = "任务队列（Redis）无法连接，任务未能排队，请稍后重试"


def submit(kind: str, func_path: str, *, owner: User, params: dict | None = None, title: str) -> int:
    """Start a background job owned by `owner` and return its id (see the package docstring for the contract).

    The job row is committed before the work starts, through the app's session (db.session): whatever
    the caller had pending there is committed with it, and on SQLite the write lock is free again for
    the job's own transaction. With REDIS_URL the job is
    queued for `rq worker` and this returns at once; without it the job runs here and has ended when
    this returns. Either way its state, progress, result file and error are on the job row.
    """
    from jobs import queue, runner

    job_id = _create(kind, func_path, owner, params, title)
    if not queue.redis_url():
        runner.execute(job_id)
        return job_id
    try:
        queue.enqueue(job_id, title)
    except Exception as exc:  # Redis down: the job is not left "queued" for ever
        log.exception("could not enqueue background job %s", job_id)
        with Session(_engine()) as session:
            fail_job(session, job_id, error=QUEUE_DOWN)
            session.commit()
        raise DomainError(QUEUE_DOWN) from exc
    return job_id


def _create(kind, func_path, owner, params, title) -> int:
    from admin_app.extensions import db

    session = db.session
    try:
        actor = session.get(User, owner.id) if owner is not None else None
        job = create_job(session, actor=actor, kind=kind, func_path=func_path, title=title, params=params)
        job_id = job.id
        session.commit()
    except Exception:
        session.rollback()
        raise
    return job_id


def _engine():
    from admin_app.extensions import db

    return db.engine
