"""Batch import pages: one upload page per importer, within the user's role and scope, with the summary,
the template download and the error report, which only the user who uploaded the file may download."""
from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from flask import abort, current_app, flash, send_file
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField
from werkzeug.exceptions import NotFound

from importers import IMPORTERS, run_import
from importers.problems import KINDS, pick as pick_in  # (pair, lang): the templates name the language
from importers.size import upload_rows
from importers.templates import template, template_filename
from jobs.imports import inline_rows, submit_import
from models import DomainError
from models.jobs.operations import job_of
from views.common import SignedInOnly, lang
from views.i18n import pick, tr

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_NAME = re.compile(r"[0-9a-f]{32}")
REPORTS_FOLDER = "import-reports"  # under UPLOADS_DIR, one folder per user id
DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # IMPORT_MAX_BYTES: a 100,000-person workbook is about 5 MB


class UploadForm(FlaskForm):
    file = FileField(tr(("选择文件（.xlsx 或 .csv）", "File (.xlsx or .csv)")),
                     validators=[FileRequired(tr(("请选择要导入的文件", "Choose a file to import")))])
    dry_run = BooleanField(tr(("仅校验，不写入（试运行）", "Validate only, write nothing (dry run)")))


def max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def reports_folder(user_id: int) -> Path:
    """Where the error reports of one user are kept (under UPLOADS_DIR, outside the static folder)."""
    return Path(current_app.config["UPLOADS_DIR"]) / REPORTS_FOLDER / str(int(user_id))


def store_report(user_id: int, data: bytes) -> str:
    """Keep an error report under a generated name; the name (32 hex digits)."""
    folder = reports_folder(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16)
    (folder / f"{name}.xlsx").write_bytes(data)
    return name


class ImportsView(SignedInOnly, BaseView):
    """批量导入: the importers the user's role may run; each page uploads, validates, imports or reports."""

    def is_accessible(self) -> bool:
        return super().is_accessible() and bool(self.available())

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return super().inaccessible_callback(name, **kwargs)
        abort(403)  # signed in, but no importer is for this role (viewers)

    @staticmethod
    def available() -> list:
        return [i for i in IMPORTERS.values() if i.allowed(current_user)]

    def importer(self, kind: str):
        found = IMPORTERS.get(kind)
        if found is None or not found.allowed(current_user):
            abort(404)
        return found

    @expose("/")
    def index(self):
        return self.render("dd_import_index.html", importers=self.available(), pick=pick_in, lang=lang())

    @expose("/<kind>", methods=("GET", "POST"))
    def upload(self, kind: str):
        importer = self.importer(kind)
        form = UploadForm()
        result, report, job = None, None, None
        if form.validate_on_submit():
            data = form.file.data.read(max_bytes() + 1)
            if len(data) > max_bytes():
                flash(pick((f"文件不能超过 {max_bytes() // (1024 * 1024)} MB", f"The file may not exceed "
                                                                            f"{max_bytes() // (1024 * 1024)} MB")),
                      "error")
            elif upload_rows(data) > inline_rows():
                job = self.import_in_background(kind, data, form)
            else:
                result, report = self.import_now(kind, data, form)
        return self.render("dd_import.html", importer=importer, form=form, result=result, report=report, job=job,
                           kinds=KINDS, pick=pick_in, lang=lang(), max_mb=max_bytes() // (1024 * 1024),
                           inline_rows=inline_rows())

    def import_now(self, kind: str, data: bytes, form):
        """A small file: imported in this request; (the result, the error report's token or None)."""
        try:
            result = run_import(self.db.session, kind, data, form.file.data.filename or "",
                                actor=current_user._get_current_object(), lang=lang(), dry_run=form.dry_run.data)
        except DomainError as exc:
            self.db.session.rollback()
            flash(str(exc), "error")
            return None, None
        if not result.ok:
            return result, store_report(current_user.id, result.report)
        flash(pick(("试运行通过，未写入任何数据", "Dry run passed; nothing was written") if result.dry_run
                   else ("导入成功", "Imported")), "success")
        return result, None

    def import_in_background(self, kind: str, data: bytes, form):
        """A large file: imported by a job of the user's (我的任务); the job as it stands now, or None."""
        try:
            job_id = submit_import(current_user._get_current_object(), kind, data, form.file.data.filename or "",
                                   lang=lang(), dry_run=form.dry_run.data)
        except DomainError as exc:
            flash(str(exc), "error")
            return None
        return job_of(self.db.session, current_user, job_id)

    @expose("/<kind>/template")
    def template(self, kind: str):
        importer = self.importer(kind)
        data = template(importer, lang(), importer.choices(self.db.session, current_user._get_current_object()))
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                         download_name=template_filename(importer, lang()))

    @expose("/report/<token>")
    def report(self, token: str):
        """An error report, for the user who uploaded the file only (anyone else: 404)."""
        if not REPORT_NAME.fullmatch(token or ""):
            raise NotFound()
        path = reports_folder(current_user.id) / f"{token}.xlsx"
        if not path.is_file():
            raise NotFound()
        return send_file(path, mimetype=XLSX, as_attachment=True,
                         download_name=pick(("导入错误报告.xlsx", "import-errors.xlsx")))


def imports_view(db) -> ImportsView:
    """The view as views/__init__.py registers it."""
    return ImportsView(db, name=tr(("批量导入", "Batch import")), endpoint="imports", url="/admin/imports",
                       category=tr(("数据导入", "Import")))
