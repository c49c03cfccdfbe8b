"""报表 / Reports: the five exports as downloads, limited to the signed-in user's scope and masked for viewers.

The page lists the exports (reports/catalog.py); a small download writes the workbook to a temporary file
(constant memory), sends it and removes it. Every sub-delegation's workbook as one zip, and any export of
more than EXPORT_INLINE_ROWS rows, is written by a background job (jobs/exports.py): the page sends the
user to 我的任务, where its bar moves and its file downloads.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

from flask import after_this_request, flash, redirect, request, send_file, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from jobs.exports import inline_rows, submit_export
from models import DomainError
from models.present import MASKED_ROLES, database_error_message
from reports.catalog import EXPORTS, estimated_rows, export_kind, file_name, run_export
from reports.common import now_in_beijing, visible_sub_delegations
from reports.weekly import monday_of, week_name
from views.common import SignedInOnly, clean_text, lang
from views.i18n import pick

log = logging.getLogger(__name__)
ALL = "all"  # the sub-delegation choice that asks for every workbook, as a zip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportsView(SignedInOnly, BaseView):
    """Every signed-in role may export; what an export holds is what the user may see."""

    @expose("/")
    def index(self):
        subs = visible_sub_delegations(self.db.session, current_user)
        return self.render("dd_reports.html", exports=list(EXPORTS.values()), subs=subs, all_value=ALL,
                           this_week=week_name(monday_of(now_in_beijing().date())), pick=pick,
                           masked=current_user.role in MASKED_ROLES)

    @expose("/download/<kind>", methods=("GET", "POST"))
    def download(self, kind):
        folder = tempfile.mkdtemp(prefix="dd-report-")

        @after_this_request
        def _remove(response):
            shutil.rmtree(folder, ignore_errors=True)
            return response

        language = lang()
        code = clean_text(request.values.get("sub"), 64) or None
        every = kind == "sub-delegation" and code in (None, ALL)
        code = None if every or kind != "sub-delegation" else code
        week = (clean_text(request.values.get("week"), 16) or None) if kind == "weekly-progress" else None
        try:
            export_kind(kind)
            sub_name = visible_sub_delegations(self.db.session, current_user, [code])[0].name if code else None
            name = file_name(kind, language, code=code, every=every, week=week, sub_name=sub_name)
            if every or estimated_rows(self.db.session, kind, actor=current_user, code=code) > inline_rows():
                return self.export_in_background(kind, name, code=code, every=every, week=week, sub_name=sub_name)
            path = os.path.join(folder, "export.xlsx")
            run_export(self.db.engine, kind, path, actor=current_user, lang=language, code=code, week=week)
        except (DomainError, SQLAlchemyError) as exc:  # a sentence, never the driver's text
            if isinstance(exc, SQLAlchemyError):
                log.exception("export %s failed", kind)  # the driver's text goes to the log only
            self.db.session.rollback()
            flash(str(exc) if isinstance(exc, DomainError) else database_error_message(exc, language), "error")
            return redirect(self.get_url(".index"))
        return send_file(path, as_attachment=True, download_name=name, mimetype=XLSX)

    def export_in_background(self, kind, name, *, code, every, week, sub_name):
        """A large export (or every workbook) as a job of the user's; they follow it on 我的任务."""
        if request.method != "POST":  # a job is started by the page's form, never by following a link
            flash(pick(("该导出数据量较大，请在本页点击「下载」，将在后台生成", "This export is large: press Download on this "
                        "page to have it written in the background")), "info")
            return redirect(self.get_url(".index"))
        scope = pick(("全部交易分团", "every sub-delegation")) if every else sub_name
        job_id = submit_export(current_user._get_current_object(), kind, name=name, lang=lang(), code=code,
                               every=every, week=week, scope_words=scope)
        flash(pick((f"导出已转为后台任务（任务 {job_id}），完成后在本页下载「{name}」",
                    f"The export runs in the background (job {job_id}); download {name} here when it is done")),
              "success")
        return redirect(url_for("jobs.index"))
