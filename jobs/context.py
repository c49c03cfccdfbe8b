"""What a running job can do: report progress and write its result file. `report()` works from any depth."""
from __future__ import annotations

import contextvars
import os
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import Engine

from models.jobs.operations import record_progress

# Progress is written to the database at most this often (seconds), and always at the end.
PROGRESS_INTERVAL = 0.5
_current: contextvars.ContextVar["JobContext | None"] = contextvars.ContextVar("dd_current_job", default=None)
# Progress of jobs running in this process, for the status endpoint of the same process: on SQLite the row
# cannot be written while the job's transaction holds the write lock, so an inline job's bar reads it here.
_live: dict[int, tuple[int, int | None]] = {}
_live_lock = threading.Lock()


class JobContext:
    """Handed to a job function as `job`: progress, the result file, the job's id."""

    def __init__(self, job_id: int, engine: Engine, results_dir: str | os.PathLike):
        self.job_id = job_id
        self.engine = engine
        self.results_dir = Path(results_dir)
        self.done, self.total = 0, None
        self.result_file: str | None = None
        self.result_name: str | None = None
        self._written_at = 0.0

    def report(self, done: int, total: int | None = None) -> None:
        """`done` of `total` items finished; cheap enough to call per row (writes are throttled)."""
        self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))
        with _live_lock:
            _live[self.job_id] = (self.done, self.total)
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if finished or now - self._written_at >= PROGRESS_INTERVAL:
            self._written_at = now
            self._write_progress()

    def _write_progress(self) -> None:
        """PostgreSQL: in a transaction of its own, so other processes see the bar move while the job works."""
        if self.engine.dialect.name != "postgresql":
            return  # SQLite's single write lock is the job's until it commits: progress lands with the result
        with self.engine.begin() as connection:
            record_progress(connection, self.job_id, self.done, self.total)

    def result_path(self, suffix: str, download_name: str) -> Path:
        """Where to write the job's result file: a generated name; the owner downloads it as `download_name`."""
        if self.result_file is not None:
            raise RuntimeError("一个任务只有一个结果文件")
        suffix = suffix if suffix.startswith(".") else "." + suffix
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.result_file = f"{uuid.uuid4().hex}{suffix.lower()}"
        self.result_name = os.path.basename(download_name) or self.result_file
        return self.results_dir / self.result_file

    def discard_result(self) -> None:
        """A failed job leaves no file behind."""
        if self.result_file:
            (self.results_dir / self.result_file).unlink(missing_ok=True)
        self.result_file = self.result_name = None


def report(done: int, total: int | None = None) -> None:
    """Report progress of the job running here (importers and exports call it; outside a job it does nothing)."""
    context = _current.get()
    if context is not None:
        context.report(done, total)


def current_job() -> JobContext | None:
    """The job running in this context, or None."""
    return _current.get()


def live_progress(job_id: int) -> tuple[int, int | None] | None:
    """(done, total) of a job running in this very process, or None."""
    with _live_lock:
        return _live.get(job_id)


def activate(context: JobContext):
    """Make `context` the current job; returns the token for deactivate()."""
    return _current.set(context)


def deactivate(context: JobContext, token) -> None:
    _current.reset(token)
    with _live_lock:
        _live.pop(context.job_id, None)
