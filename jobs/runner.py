"""Running one job: in its own transaction, committed with its `done` state, or rolled back and marked failed.

`execute(job_id)` is what the RQ worker calls (`rq worker <RQ_QUEUE>` beside the app) and what `submit()`
calls inline when there is no Redis. In a worker process there is no app yet: the first job creates one
from the environment (DATABASE_URL, SECRET_KEY, REPORTS_DIR, ...), like the web processes do.
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from jobs.context import JobContext, activate, deactivate
from models import DomainError, User
from models.jobs.operations import fail_job, finish_job, start_job
from models.jobs.tables import BackgroundJob
from models.present import database_error_message

log = logging.getLogger(__name__)
_worker_app = None
_worker_app_pid = None
_worker_app_lock = threading.Lock()


def results_dir() -> Path:
    """Where job result files live: REPORTS_DIR/jobs (outside the static folder, served only to owners)."""
    return Path(current_app.config["REPORTS_DIR"]) / "jobs"


def execute(job_id: int) -> str:
    """Run job `job_id` once and record how it ended; the new state's value ('done', 'failed', 'skipped')."""
    with _app_context():
        return run_job(int(job_id))


def preload_app() -> None:
    """Build the worker's app now (jobs.worker.AppWorker does, before it forks a work horse per job)."""
    global _worker_app, _worker_app_pid
    with _worker_app_lock:
        if _worker_app is None:
            from admin_app import create_app

            _worker_app, _worker_app_pid = create_app(), os.getpid()


@contextmanager
def _app_context():
    """The caller's app context (inline), or this worker process's own app."""
    global _worker_app_pid
    if has_app_context():
        yield
        return
    preload_app()
    with _worker_app.app_context():
        if _worker_app_pid != os.getpid():
            # A forked work horse: the parent's pooled connections are not ours to use (nor to close).
            _engine().dispose(close=False)
            _worker_app_pid = os.getpid()
        yield


def _engine():
    from admin_app.extensions import db

    return db.engine


def run_job(job_id: int) -> str:
    engine = _engine()
    with Session(engine) as session:
        if not start_job(session, job_id):
            session.rollback()
            log.warning("background job %s is not queued any more: not run again", job_id)
            return "skipped"
        session.commit()
        job = session.get(BackgroundJob, job_id)
        func_path, params, owner_id = job.func_path, dict(job.params or {}), job.owner_id
        context = JobContext(job_id, engine, results_dir())
        token = activate(context)
        try:
            owner = session.get(User, owner_id) if owner_id is not None else None
            summary = load_function(func_path)(session, actor=owner, params=params, job=context)
            finish_job(session, job_id, done=context.done, total=context.total,
                       summary=None if summary is None else str(summary), result_file=context.result_file,
                       result_name=context.result_name)
            session.commit()
            return "done"
        except Exception as exc:  # every failure is recorded in words; nothing the job wrote is kept
            session.rollback()
            context.discard_result()
            if isinstance(exc, DomainError):  # a refusal in words: no traceback needed
                log.warning("background job %s (%s) refused: %s", job_id, func_path, exc)
            else:
                log.exception("background job %s (%s) failed", job_id, func_path)
            _record_failure(engine, job_id, failure_words(exc), context)
            return "failed"
        finally:
            deactivate(context, token)


def _record_failure(engine, job_id: int, error: str, context: JobContext) -> None:
    with Session(engine) as session:
        fail_job(session, job_id, error=error, done=context.done, total=context.total)
        session.commit()


def failure_words(exc: BaseException) -> str:
    """Why a job failed, in a sentence a person can read (never the driver's text)."""
    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        return "数据库错误：" + database_error_message(exc)
    if type(exc).__name__ == "JobTimeoutException":
        return "任务超时（JOB_TIMEOUT），已中止，未保存任何修改"
    return f"任务执行出错（{type(exc).__name__}）：{exc}，未保存任何修改"


def load_function(path: str):
    """'package.module:function' or 'package.module.function' -> the function."""
    module_name, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not name:
        raise DomainError(f"任务函数路径无效：{path}")
    return getattr(importlib.import_module(module_name), name)
