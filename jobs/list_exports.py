"""A back-office list's 导出Excel as a job, when the list holds more rows than a request should stream.

The job asks the list's view, with the owner signed in (jobs/lists.py), for the same rows the page showed:
its search, filters and sort as JSON, scope and masking as the owner's. Rows stream into a constant-memory
workbook, the job's result; progress every 2,000 rows.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.context import JobContext
from jobs.lists import acting_as, admin_view
from models import User
from reports.common import words
from reports.xlsx import write_table

FUNC_PATH = "jobs.list_exports:export_list"
KIND = "export"
STEP = 2000


def export_list(session: Session, *, actor: User, params: dict, job: JobContext) -> str:
    """Write list params['view'] for params['narrowing'] (search, filters) and sort as the job's workbook."""
    lang = params.get("lang") or "zh"
    view = admin_view(params["view"])
    with acting_as(actor, lang):
        query = view.export_query_of(params["narrowing"], params.get("sort"), bool(params.get("desc")))
        statement = query.statement
        total = session.scalar(select(func.count()).select_from(query.with_entities(view.model.id).subquery()))
        columns, headers = view.export_columns()
        job.report(0, total)
        written = 0

        def rows():
            nonlocal written
            for obj in session.execute(statement.execution_options(yield_per=STEP)).scalars():
                written += 1
                if written % STEP == 0:
                    job.report(written, total)
                yield view.export_row(obj, columns)

        write_table(str(job.result_path(".xlsx", params["name"])), params["title"], headers, rows())
    job.report(total, total)
    return words((f"已导出 {written:,} 条", f"{written:,} rows exported"), lang)


def submit_list_export(owner: User, *, view: str, title: str, narrowing: dict, sort, desc: bool, name: str,
                       lang: str = "zh") -> int:
    """Queue (without Redis: run) the export of list `view` as `owner`'s job; the job's id."""
    from jobs import submit

    params = {"view": view, "title": title, "narrowing": narrowing, "sort": sort, "desc": desc, "name": name,
              "lang": lang}
    return submit(KIND, FUNC_PATH, owner=owner, params=params,
                  title=words((f"导出「{title}」列表", f"Export: {title} list"), lang))
