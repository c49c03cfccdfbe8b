"""报表 / Reports: the five exports as downloads, limited to the signed-in user's scope and masked for viewers.

The page lists the exports (reports/catalog.py); each download writes the workbook to a temporary file
(constant memory), sends it and removes it. Every sub-delegation's workbook comes as one zip.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

from flask import after_this_request, flash, redirect, request, send_file
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from models import DomainError
from models.present import MASKED_ROLES, database_error_message
from reports.catalog import EXPORTS, export_kind, file_name, run_export
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

    @expose("/download/<kind>")
    def download(self, kind):
        folder = tempfile.mkdtemp(prefix="dd-report-")

        @after_this_request
        def _remove(response):
            shutil.rmtree(folder, ignore_errors=True)
            return response

        language = lang()
        code = clean_text(request.args.get("sub"), 64) or None
        every = kind == "sub-delegation" and code in (None, ALL)
        week = clean_text(request.args.get("week"), 16) or None
        try:
            export_kind(kind)
            sub_name = None
            if kind == "sub-delegation" and not every:
                sub_name = visible_sub_delegations(self.db.session, current_user, [code])[0].name
            name = file_name(kind, language, code=code, every=every, week=week, sub_name=sub_name)
            path = os.path.join(folder, "export.zip" if every else "export.xlsx")
            run_export(self.db.engine, kind, path, actor=current_user, lang=language,
                       code=None if every or kind != "sub-delegation" else code, every=every,
                       week=week if kind == "weekly-progress" else None)
        except (DomainError, SQLAlchemyError) as exc:  # a sentence, never the driver's text
            if isinstance(exc, SQLAlchemyError):
                log.exception("export %s failed", kind)  # the driver's text goes to the log only
            self.db.session.rollback()
            flash(str(exc) if isinstance(exc, DomainError) else database_error_message(exc, language), "error")
            return redirect(self.get_url(".index"))
        return send_file(path, as_attachment=True, download_name=name,
                         mimetype="application/zip" if every else XLSX)
