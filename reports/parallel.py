"""Every sub-delegation workbook the actor may see, written by a pool of processes (one per core by default).

Each process opens its own engine on the database URL (engines and connections must not cross a fork),
reads the actor by id, and writes whole workbooks, largest sub-delegation first so the processes finish
together. Processes are spawned, not forked: a web server's threads may hold locks a fork would copy.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from models.delegation import User
from models.errors import DomainError
from models.registration import Person
from reports.common import read_session, visible_sub_delegations
from reports.sub_delegation import workbook_name, write_sub_delegation

_engine: Engine | None = None  # the engine of a worker process
WORKBOOK_TIMEOUT = 900  # seconds; a million persons' largest workbook takes about ten


@dataclass
class WorkbookDone:
    """One workbook written: where, its rows per sheet, how long it took (wall and CPU) and the worker's peak memory."""

    code: str
    path: str
    sheets: dict[str, int]
    seconds: float
    cpu_seconds: float
    pid: int
    peak_rss_mb: float


@dataclass
class AllWorkbooks:
    """What --all wrote."""

    done: list[WorkbookDone] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [d.path for d in self.done]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start_worker(url: str) -> None:
    global _engine
    _engine = create_engine(url, pool_size=1, max_overflow=0)


def _write_one(task: tuple[int, str, str, str]) -> WorkbookDone:
    """Write one sub-delegation's workbook in this worker (engine from _start_worker, or a passed one)."""
    actor_id, code, folder, lang = task
    started, cpu_started = time.perf_counter(), time.process_time()
    with read_session(_engine) as session:
        actor = session.get(User, actor_id)
        sub = visible_sub_delegations(session, actor, [code])[0]
        path = os.path.join(folder, workbook_name(sub))
        written = write_sub_delegation(session, path, actor=actor, sub=sub, lang=lang)
    return WorkbookDone(code=code, path=path, sheets=written.sheets, seconds=time.perf_counter() - started,
                        cpu_seconds=time.process_time() - cpu_started, pid=os.getpid(), peak_rss_mb=peak_rss_mb())


def database_url(engine: Engine) -> str:
    """The URL a worker connects with (password included: it never leaves this machine's processes)."""
    return engine.url.render_as_string(hide_password=False)


def write_all_sub_delegations(engine: Engine, folder: str, *, actor: User, lang: str = "zh", codes=None,
                              processes: int | None = None,
                              on_done: Callable[[WorkbookDone], None] | None = None) -> AllWorkbooks:
    """A workbook per sub-delegation in the actor's scope (narrowed to `codes`) into `folder`, in parallel."""
    os.makedirs(folder, exist_ok=True)
    with read_session(engine) as session:
        actor = session.get(User, actor.id)
        subs = visible_sub_delegations(session, actor, codes)
        sizes = dict(session.execute(select(Person.sub_delegation_id, func.count())
                                     .where(Person.sub_delegation_id.in_([s.id for s in subs]))
                                     .group_by(Person.sub_delegation_id)).all()) if subs else {}
        largest_first = sorted(subs, key=lambda s: (-sizes.get(s.id, 0), s.seq, s.id))
        tasks = [(actor.id, s.code, folder, lang) for s in largest_first]
    processes = max(1, min(processes or os.cpu_count() or 1, len(tasks) or 1))
    result = AllWorkbooks()
    for done in _run(engine, tasks, processes):
        result.done.append(done)
        if on_done:
            on_done(done)
    order = {s.code: i for i, s in enumerate(subs)}
    result.done.sort(key=lambda d: order[d.code])
    return result


def _run(engine: Engine, tasks: list, processes: int) -> Iterable[WorkbookDone]:
    global _engine
    if processes == 1:  # no pool for one process: the caller's engine, no start-up cost
        previous, _engine = _engine, engine
        try:
            for task in tasks:
                yield _write_one(task)
        finally:
            _engine = previous
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_start_worker, initargs=(database_url(engine),)) as pool:
        results = pool.imap_unordered(_write_one, tasks)
        for _ in tasks:
            try:
                # A worker that died (killed, out of memory) leaves its workbook pending for ever: wait so long only.
                yield results.next(timeout=WORKBOOK_TIMEOUT)
            except multiprocessing.TimeoutError:
                raise DomainError(f"导出超时：一个交易分团的工作簿 {WORKBOOK_TIMEOUT} 秒内未写完") from None


def zip_files(paths: Iterable[str], target) -> None:
    """The workbooks in one zip (stored: an xlsx is compressed already)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path in paths:
            archive.write(path, arcname=os.path.basename(path))
