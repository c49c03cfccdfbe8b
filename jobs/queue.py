"""The RQ side: one Redis connection and one queue per app (RQ_QUEUE), used only when REDIS_URL is set."""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

DEFAULT_QUEUE = "delegation-desk"
ENTRY_POINT = "jobs.runner.execute"  # what the worker imports and calls with the job's id


def redis_url() -> str | None:
    return current_app.config.get("REDIS_URL") or None


def connection() -> Redis:
    """The app's Redis client (created once per app)."""
    cached = current_app.extensions.get("dd_jobs_redis")
    if cached is None:
        cached = Redis.from_url(redis_url(), socket_connect_timeout=5, socket_timeout=30)
        current_app.extensions["dd_jobs_redis"] = cached
    return cached


def queue_name() -> str:
    return current_app.config.get("RQ_QUEUE") or DEFAULT_QUEUE


def queue() -> Queue:
    """This app's queue: several deployments (or test runs) share one Redis under different names."""
    return Queue(queue_name(), connection=connection())


def enqueue(job_id: int, title: str) -> str:
    """Put job `job_id` on the queue; the worker runs jobs.runner.execute(job_id). Returns RQ's job id."""
    timeout = int(current_app.config.get("JOB_TIMEOUT") or 3600)
    rq_job = queue().enqueue_call(ENTRY_POINT, args=(job_id,), timeout=timeout, result_ttl=86400,
                                  failure_ttl=7 * 86400, description=title, job_id=f"dd-job-{queue_name()}-{job_id}")
    return rq_job.id
