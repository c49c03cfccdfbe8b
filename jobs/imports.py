"""The import job: an upload too large to import inside a request, kept under a generated name and imported here.

The job reports each stage of the import (reading, checking each sheet, writing) on its bar. A valid file
is committed with the job's 已完成; a file with errors writes nothing and leaves its error report as the
job's result file; the stored upload is removed either way.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path, PurePath

from flask import current_app
from sqlalchemy.orm import Session

from importers import IMPORTERS, Progress, run_import
from importers.problems import pick
from jobs.context import JobContext
from models import DomainError, User

FUNC_PATH = "jobs.imports:import_upload"
KIND = "import"
UPLOADS_FOLDER = "import-uploads"  # under UPLOADS_DIR, shared by the web processes and the workers
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(xlsx|xlsm|csv|txt)$")
DEFAULT_INLINE_ROWS = 2000


def inline_rows() -> int:
    """Uploads of at most this many rows are imported in the request (IMPORT_INLINE_ROWS)."""
    return int(current_app.config.get("IMPORT_INLINE_ROWS") or DEFAULT_INLINE_ROWS)


class JobProgress(Progress):
    """The importer's stages on the job's bar: each stage starts the bar afresh at 0 of its steps."""

    def __init__(self, job: JobContext):
        self.job, self.done, self.total = job, 0, 0

    def stage(self, label, total: int) -> None:
        self.done, self.total = 0, max(0, int(total))
        self.job.report(0, self.total)

    def advance(self, steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps)
        self.job.report(self.done, self.total)


def uploads_folder() -> Path:
    return Path(current_app.config["UPLOADS_DIR"]) / UPLOADS_FOLDER


def store_upload(data: bytes, filename: str) -> str:
    """Keep an upload under a generated name (never the user's); the name."""
    suffix = PurePath(filename or "").suffix.lower()
    name = f"{uuid.uuid4().hex}{suffix if suffix in ('.xlsx', '.xlsm', '.csv', '.txt') else '.xlsx'}"
    folder = uploads_folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return name


def stored_path(name: str) -> Path:
    if not STORED_NAME.match(name or ""):
        raise DomainError("导入文件名无效")
    return uploads_folder() / name


def import_upload(session: Session, *, actor: User, params: dict, job: JobContext) -> str:
    """Import the stored upload as its owner; the summary, and the error report when the file had errors."""
    lang = params.get("lang") or "zh"
    path = stored_path(params["file"])
    try:
        if not path.is_file():
            raise DomainError("上传的文件已不存在，请重新上传")
        result = run_import(session, params["kind"], path.read_bytes(), params.get("filename") or path.name,
                            actor=actor, lang=lang, dry_run=bool(params.get("dry_run")), progress=JobProgress(job),
                            commit=False)
        if not result.ok:
            report = job.result_path(".xlsx", pick(("导入错误报告.xlsx", "import-errors.xlsx"), lang))
            report.write_bytes(result.report)
        return "；".join(result.summary(lang))
    finally:
        path.unlink(missing_ok=True)


def job_title(kind: str, filename: str, lang: str = "zh") -> str:
    """导入「批量注册」：名单.xlsx."""
    importer = IMPORTERS[kind]
    return pick((f"导入「{importer.title[0]}」：{filename}", f"Import {importer.title[1]}: {filename}"), lang)


def submit_import(owner: User, kind: str, data: bytes, filename: str, *, lang: str = "zh",
                  dry_run: bool = False) -> int:
    """Store the upload and queue (without Redis: run) its import as `owner`'s job; the job's id."""
    from jobs import submit

    if kind not in IMPORTERS:
        raise DomainError(f"未知的导入类型：{kind}")
    name = store_upload(data, filename)
    params = {"kind": kind, "file": name, "filename": PurePath(filename or name).name, "lang": lang,
              "dry_run": bool(dry_run)}
    try:
        return submit(KIND, FUNC_PATH, owner=owner, params=params, title=job_title(kind, params["filename"], lang))
    except Exception:
        (uploads_folder() / name).unlink(missing_ok=True)
        raise
