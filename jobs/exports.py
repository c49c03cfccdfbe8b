"""The export job: every sub-delegation's workbook as a zip, or a workbook too large to write inside a request.

The job reads its own snapshot (reports/catalog.run_export) while holding no transaction of its own, and
its result file is the workbook or the zip the owner downloads from 我的任务. Progress: one step per
workbook written.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from jobs.context import JobContext
from models import User
from reports.catalog import export_kind, run_export
from reports.common import visible_sub_delegations, words

FUNC_PATH = "jobs.exports:export_report"
KIND = "export"
DEFAULT_INLINE_ROWS = 20000


def inline_rows() -> int:
    """Exports of at most this many rows are downloaded at once (EXPORT_INLINE_ROWS)."""
    return int(current_app.config.get("EXPORT_INLINE_ROWS") or DEFAULT_INLINE_ROWS)


def export_report(session: Session, *, actor: User, params: dict, job: JobContext) -> str:
    """Write the export named by params (kind, lang, code, every, week, name) as the job's result file."""
    kind, lang, every = params["kind"], params.get("lang") or "zh", bool(params.get("every"))
    workbooks = len(visible_sub_delegations(session, actor, [params["code"]] if params.get("code") else None)) \
        if every else 1
    engine = session.get_bind()
    session.expunge(actor)
    session.rollback()  # the export reads its own snapshot: hold no transaction (on SQLite: no write lock) meanwhile
    job.report(0, workbooks)
    path = job.result_path(".zip" if every else ".xlsx", params["name"])
    written = run_export(engine, kind, str(path), actor=actor, lang=lang, code=params.get("code"), every=every,
                         week=params.get("week"), on_done=lambda done: job.report(job.done + 1, workbooks))
    job.report(workbooks, workbooks)
    if every:
        return words((f"已导出 {workbooks} 个交易分团的工作簿（zip）", f"{workbooks} sub-delegation workbooks (zip)"), lang)
    rows = words(("、", ", "), lang).join(f"{sheet} {n}" for sheet, n in written.sheets.items())
    return words((f"已导出「{export_kind(kind).title[0]}」：{rows} 行", f"{export_kind(kind).title[1]}: {rows} rows"), lang)


def submit_export(owner: User, kind: str, *, name: str, lang: str = "zh", code: str | None = None,
                  every: bool = False, week: str | None = None, scope_words: str | None = None) -> int:
    """Queue (without Redis: run) export `kind` as `owner`'s job; its result downloads as `name`. The job's id."""
    from jobs import submit

    zh, en = export_kind(kind).title
    scope = f"（{scope_words}）" if scope_words else ""
    params = {"kind": kind, "lang": lang, "code": code, "every": bool(every), "week": week, "name": name}
    return submit(KIND, FUNC_PATH, owner=owner, params=params,
                  title=words((f"导出「{zh}」{scope}", f"Export: {en}{scope}"), lang))
