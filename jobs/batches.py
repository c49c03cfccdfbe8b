"""The batch job: a transition or batch verb over more rows than BATCH_INLINE_ROWS, off the request.

The job rebuilds its target in its own transaction: the ids the user ticked, or the list's search and
filters as the list view turns them into a SELECT (never ids gathered in the request), and calls the
same domain operation as the inline path (the engine's `run`, or the view's verb such as batch refund),
which re-checks state, role, scope and guards of every row. Its result file is the per-row report
(done, or skipped and why); a batch refund adds its bank batch file, the two in one zip. A refusal of
the whole batch fails the job and keeps nothing.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from jobs.context import JobContext
from jobs.lists import acting_as, list_view
from models import User
from reports.common import words
from reports.finance import write_bank_batch
from reports.parallel import zip_files
from reports.xlsx import write_table

FUNC_PATH = "jobs.batches:run_batch"
KIND = "batch"
DEFAULT_INLINE_ROWS = 5000
REPORT_HEADERS = {"zh": ("编号", "名称", "结果", "未执行原因"), "en": ("ID", "Name", "Result", "Why skipped")}
SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")
DONE, SKIPPED = ("已完成", "Done"), ("未执行", "Skipped")


def inline_rows() -> int:
    """Batches of at most this many rows run in the request (BATCH_INLINE_ROWS)."""
    return int(current_app.config.get("BATCH_INLINE_ROWS") or DEFAULT_INLINE_ROWS)


def run_batch(session: Session, *, actor: User, params: dict, job: JobContext) -> str:
    """Run params['action'] of list params['view'] on params['target'] as the owner; the per-row report as result."""
    lang, label = params.get("lang") or "zh", params["label"]
    view = list_view(params["view"])
    with acting_as(actor):
        target = view.batch_target(params["target"])
        total = _count(session, target)
        job.report(0, total)
        outcome = view.batch_operation(params["action"])(session, target, actor=actor, params=params.get("params"))
        names = view._names(sorted({*outcome.done, *outcome.skipped}), session)
    batch = getattr(outcome, "batch", None) if outcome.done else None  # a batch refund's number
    _write_results(session, job, outcome, names, label=label, lang=lang, actor=actor, total=total, batch=batch)
    job.report(total, total)
    done, skipped = len(outcome.done), len(outcome.skipped)
    return words((f"「{label}」已完成 {done:,} 条，未执行 {skipped:,} 条" + (f"，退款批次 {batch}" if batch else ""),
                  f"{label}: {done:,} done, {skipped:,} skipped" + (f", refund batch {batch}" if batch else "")), lang)


def _write_results(session, job, outcome, names, *, label, lang, actor, total, batch) -> None:
    """The per-row report as the job's result, zipped with the bank batch file after a batch refund."""
    folder = Path(tempfile.mkdtemp(prefix="dd-batch-"))
    try:
        report = folder / words(("逐条结果.xlsx", "per-row-report.xlsx"), lang)
        _write_report(report, label, outcome, names, lang, job, total)
        if not batch:
            shutil.move(report, job.result_path(".xlsx", f"{label}_{report.name}"))
            return
        bank = folder / f"{words(('银行批量付款', 'bank-batch'), lang)}_{batch}.xlsx"
        write_bank_batch(session, str(bank), batch=batch, actor=actor)  # the refunds to bank accounts
        zip_files([str(report), str(bank)], job.result_path(".zip", f"{label}_{batch}.zip"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _count(session: Session, target) -> int:
    if isinstance(target, Select):
        return session.scalar(select(func.count()).select_from(target.subquery())) or 0
    return len(target)


def _write_report(path: Path, label: str, outcome, names: dict, lang: str, job: JobContext, total: int) -> None:
    """One row per row acted on, in id order: done, or skipped with the reason; the bar moves as rows are written."""
    done = set(outcome.done)

    def rows():
        for n, row_id in enumerate(sorted(done | set(outcome.skipped)), 1):
            job.report(min(n, total), total)
            if row_id in done:
                yield row_id, names.get(row_id, ""), words(DONE, lang), ""
            else:
                yield row_id, names.get(row_id, ""), words(SKIPPED, lang), str(outcome.skipped[row_id])

    headers = list(REPORT_HEADERS["en" if lang == "en" else "zh"])
    write_table(str(path), SHEET_UNSAFE.sub("_", label)[:31], headers, rows())


def submit_batch(owner: User, *, view: str, action: str, label: str, target: dict, params: dict, count: int,
                 lang: str = "zh") -> int:
    """Queue (without Redis: run) action `action` of list `view` on `target` as `owner`'s job; its id."""
    from jobs import submit

    job_params = {"view": view, "action": action, "label": label, "target": target, "params": params,
                  "lang": lang}
    return submit(KIND, FUNC_PATH, owner=owner, params=job_params,
                  title=words((f"批量「{label}」（{count:,} 条）", f"Batch: {label} ({count:,} rows)"), lang))
