"""Documents a reviewer can see: uploads in the forms, files served in scope, previews, and a row's related rows.

DocumentsMixin is mixed into a ScopedModelView whose table has file columns, declared as
`documents = {kind: column}` (kinds of models/files.py). It adds an upload field per document to
the create and edit forms, stores the upload through models/files.py and passes the stored name
to the domain operation as the column value, serves the file at /admin/<view>/<kind>/<id> to users
whose scope holds the row, and shows a preview on the details page. `related_rows` lists the rows
of other tables that point at the row (an organisation's persons, addresses, orders, deals).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app, flash, send_file
from flask_admin import expose
from flask_babel import format_datetime
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, inspect, select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers import Response
from wtforms import FileField

from models import NotFound, files, visible
from models.base import LabeledEnum
from views.i18n import enum_label, pick, tr
from views.listing import shown_to_user
from views.transitions import TransitionButton

RELATED_ROWS_SHOWN = 100
DESCRIPTIONS = {
    "licence": ("jpg 或 png 图片，不超过 2 MB。企业上传营业执照，社会组织上传社会团体法人证，事业单位上传事业单位法人证，"
                "提交审核前须上传；政府机构和境外单位无需上传。",
                "A jpg or png image of at most 2 MB: an enterprise's business licence, a social organisation's or "
                "public institution's legal-person certificate, needed before submission; government agencies "
                "and overseas organisations need none."),
    "photo": ("jpg 或 png 图片，不超过 2 MB；用于制证，请上传与证件相符的白底照片。",
              "A jpg or png image of at most 2 MB, used on the badge: a photo matching the ID, white background."),
    "voucher": ("jpg、png 图片或 pdf 文件，不超过 2 MB。", "A jpg or png image or a pdf file of at most 2 MB."),
}


def upload_field(kind: str) -> str:
    """The form field that takes a document of this kind (not the column: it holds the stored name)."""
    return f"{kind}_upload"


def uploads_root() -> str:
    """The storage root of the app serving this request."""
    return current_app.config["UPLOADS_DIR"]


def chosen_file(data) -> FileStorage | None:
    """The uploaded file of a file field, or None when none was chosen (browsers send an empty part)."""
    return data if isinstance(data, FileStorage) and data.filename else None


def document_not_found() -> Response:
    """The one answer for an unknown id, a row out of scope, a row without a file and a forged name."""
    title = pick(("文件不存在", "File not found"))
    text = pick(("该文件不存在，或不在您的查看范围内。", "There is no such file, or it is outside what you may see."))
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>")
    return Response(page, status=404, mimetype="text/html")


class DocumentsMixin:
    """Upload, storage, scoped serving and preview of a model's files; related rows on the details page."""

    documents: dict[str, str] = {}  # kind -> column holding the stored name
    related_rows: tuple = ()  # (model, column keys): rows of `model` whose organization_id is this row's id
    related_key = "organization_id"

    def __init__(self, model, session, **kwargs):
        fields = dict(getattr(self, "form_extra_fields", None) or {})
        for kind, column in self.documents.items():
            accept = ",".join(sorted({files.CONTENT_TYPES[t] for t in files.KINDS[kind]}))
            fields[upload_field(kind)] = FileField(tr(model.__table__.c[column].info["label"]),
                                                   description=tr(DESCRIPTIONS[kind]), render_kw={"accept": accept})
        self.form_extra_fields = fields
        if getattr(self, "form_columns", None):  # Flask-Admin adds extra fields only when form_columns names them
            self.form_columns = tuple(self.form_columns) + tuple(upload_field(kind) for kind in self.documents)
        super().__init__(model, session, **kwargs)
        # Previews on the details page only: a list would read every row's file.
        self.column_formatters_detail = dict(self.column_formatters_detail or {}, **{
            column: self._preview_formatter(kind, column) for kind, column in self.documents.items()})

    # --- forms: the upload becomes the column's stored name ---------------------------------------
    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for kind, column in self.documents.items():
            if obj is not None and getattr(obj, column, None) and upload_field(kind) in form:
                form[upload_field(kind)].description = Markup("{}<br>{}").format(
                    pick(("已上传；选择新文件将替换现有文件。", "Uploaded; choosing a file replaces it.")),
                    pick(DESCRIPTIONS[kind]))
        return form

    def form_values(self, form) -> dict:
        """The column values, with each chosen file checked by content and stored under a generated name."""
        values = super().form_values(form)
        for kind, column in self.documents.items():
            upload = chosen_file(form[upload_field(kind)].data) if upload_field(kind) in form else None
            if upload is None:
                continue  # nothing chosen: the stored file stays as it is
            # One byte over the limit is enough to refuse; the rest of a big upload is never read.
            name = files.store(kind, upload.stream.read(files.MAX_BYTES + 1), root=uploads_root(), field=column)
            form.dd_stored_files = [*getattr(form, "dd_stored_files", ()), name]
            values[column] = name
        return values

    def _write(self, form, operation):
        """A write that is refused or fails removes the files it stored: no orphans."""
        try:
            result = super()._write(form, operation)
        except BaseException:
            self._discard_stored(form)
            raise
        if not result:
            self._discard_stored(form)
        return result

    def _discard_stored(self, form) -> None:
        for name in getattr(form, "dd_stored_files", ()):
            files.remove(name, root=uploads_root())
        form.dd_stored_files = []

    def show_on_field(self, form, exc) -> None:
        """A refusal of a file column goes under its upload field."""
        for kind, column in self.documents.items():
            if exc.field == column and upload_field(kind) in form:
                field = form[upload_field(kind)]
                field.errors = list(field.errors or []) + [str(exc)]
                return
        super().show_on_field(form, exc)

    def create_model(self, form):
        row = super().create_model(form)
        if row:
            self._remind_missing_documents(row)
        return row

    def update_model(self, form, model):
        saved = super().update_model(form, model)
        if saved:
            self._remind_missing_documents(model)
        return saved

    def _remind_missing_documents(self, row) -> None:
        """Saving without a document is allowed (drafts); say what submission will need."""
        if "licence" in self.documents and not row.licence_file and files.needs_licence(row.category):
            zh, en = files.LICENCE_DOCUMENTS[row.category]
            flash(pick((f"尚未上传{zh}：{enum_label(row.category)}提交审核前须上传（jpg 或 png，不超过 2 MB）",
                        f"No {en} uploaded yet: it is needed before submission (jpg or png, at most 2 MB)")),
                  "warning")
        if "photo" in self.documents and not row.photo and not row.is_reuse:
            flash(pick(("尚未上传证件照：制证需要证件照（jpg 或 png，不超过 2 MB）",
                        "No photo uploaded yet: the badge needs one (jpg or png, at most 2 MB)")), "warning")

    # --- serving: only rows in the user's scope, only stored names ----------------------------------
    @expose(f"/<any({', '.join(files.KINDS)}):kind>/<row_id>")
    def document_view(self, kind, row_id):
        """The file of one row, inline, to users whose scope holds the row; everything else answers 404."""
        column = self.documents.get(kind)
        try:
            if column is None:
                raise NotFound("no such document")
            row = self.get_one(row_id)  # scoped: 404 for unknown ids and rows out of scope
            name = getattr(row, column)
            path = files.path_of(name, root=uploads_root())  # only generated names, only existing files
        except (HTTPNotFound, NotFound):
            return document_not_found()
        response = send_file(path, mimetype=files.content_type(name), as_attachment=False,
                             download_name=f"{kind}-{row.id}{path.suffix}", conditional=True, etag=True)
        # Personal documents: the browser may keep them but must ask again (the scope may have changed),
        # and no shared cache may keep them at all.
        response.cache_control.public = False
        response.cache_control.private = True
        response.cache_control.no_cache = True
        response.cache_control.max_age = None
        response.expires = None
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.vary.add("Cookie")
        return response

    def _preview_formatter(self, kind, column):
        """A details cell: the image linked to the full file, a link for a pdf, or why there is nothing."""

        def preview(view, context, model, name):
            stored = getattr(model, column)
            if not stored:
                return pick(("未上传", "Not uploaded"))
            if not files.exists(stored, root=uploads_root()):
                return Markup('<span class="text-muted">{}</span>').format(
                    pick(("文件缺失，请重新上传", "The file is missing; please upload it again")))
            url = view.get_url(".document_view", kind=kind, row_id=model.id)
            label = pick(model.__table__.c[column].info["label"])
            if files.content_type(stored).startswith("image/"):
                return Markup('<a href="{0}" target="_blank" rel="noopener"><img src="{0}" alt="{1}" '
                              'class="img-thumbnail dd-document-preview" style="max-height:240px;max-width:100%">'
                              "</a>").format(url, label)
            return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(
                url, pick(("查看文件", "Open the file")))

        return preview

    # --- details page: the list's action buttons, and the related rows in scope ---------------------
    def details_extra(self, obj) -> dict:
        extra = dict(super().details_extra(obj))
        extra["actions"] = self.action_buttons(obj)
        extra["related"] = [self.related_section(model, columns, obj) for model, columns in self.related_rows]
        return extra

    def action_buttons(self, obj) -> list:
        """The workflow buttons the list shows on this row (only transitions the user's role may fire)."""
        if getattr(self, "workflow", None) is None:
            return []
        buttons = (action.render(None, obj.id, obj) for action in self.get_list_row_actions()
                   if isinstance(action, TransitionButton))
        return [button for button in buttons if button]

    def related_section(self, model, columns, obj) -> dict:
        """Up to RELATED_ROWS_SHOWN rows of `model` pointing at `obj`, in the user's scope, as the user may see them."""
        condition = (getattr(model, self.related_key) == obj.id, visible(current_user, model))
        rows = self.db_session.scalars(select(model).where(*condition).order_by(model.id)
                                       .limit(RELATED_ROWS_SHOWN)).all()
        total = len(rows)
        if total == RELATED_ROWS_SHOWN:
            total = self.db_session.scalar(select(func.count()).select_from(model).where(*condition))
        view = self._details_view_of(model)
        table = model.__table__.c
        return {"title": pick(model.__label__), "total": total, "shown": len(rows),
                "headers": [pick(label_of(model, key)) for key in columns],
                "rows": [{"url": view.get_url(f"{view.endpoint}.details_view", id=row.id) if view else None,
                          "cells": [cell(table.get(key), getattr(row, key)) for key in columns]} for row in rows]}

    def _details_view_of(self, model):
        """The registered view of `model` whose details page the current user may open, or None."""
        for view in getattr(self.admin, "_views", ()):
            if getattr(view, "model", None) is model and view.can_view_details and view.is_accessible():
                return view
        return None


def label_of(model, key: str) -> tuple[str, str]:
    """The (zh, en) label of a column or a relationship (a related row named by its own str: 参观人员)."""
    column = model.__table__.c.get(key)
    if column is not None:
        return column.info["label"]
    return inspect(model).relationships[key].info["label"]


def cell(column, value) -> str:
    """A related row's value as text: enum labels, personal data as the user may see it, local times;
    a related row (no column) by its own name."""
    if value is None:
        return ""
    if column is None:
        return str(value)
    if column.info.get("sensitive"):
        return str(shown_to_user(column, value))
    if isinstance(value, LabeledEnum):
        return enum_label(value)
    if isinstance(value, bool):
        return pick(("是", "Yes")) if value else pick(("否", "No"))
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return format_datetime(value, "yyyy-MM-dd HH:mm")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
