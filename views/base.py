"""ScopedModelView: every Flask-Admin path (list, count, details, edit, ajax, export, actions) goes through visible()."""
from __future__ import annotations

import os
import tempfile
from datetime import datetime

from flask import abort, after_this_request, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import FilterEqual, FilterInList, FilterNotEqual
from flask_login import current_user
from flask_babel import LazyString
from sqlalchemy import Enum as SAEnum
from sqlalchemy import Date, DateTime, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import RelationshipProperty

from admin_app.extensions import db
from models import AuditEntry, DomainError, Role, User, visible
from models.base import LabeledEnum
from reports.xlsx import write_table
from views.i18n import english, enum_label, pick, tr

ALL_ROLES = frozenset(Role)
SECRETARIAT_ONLY = frozenset({Role.SECRETARIAT})


def mask(value: str | None) -> str:
    """440***********1234: keep the first three and last four characters."""
    if not value:
        return ""
    value = str(value)
    return value[:3] + "*" * max(len(value) - 7, 1) + value[-4:] if len(value) > 7 else "*" * len(value)


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Ajax lookups limited to the rows the current user may see."""

    def get_query(self):
        return super().get_query().filter(visible(current_user, self.model))

    def get_one(self, pk):
        return row_by_id(self.get_query(), self.model, pk)


class ScopedModelView(ModelView):
    """A model view whose every query is limited by visible(current_user, Model)."""

    read_roles = ALL_ROLES
    write_roles = SECRETARIAT_ONLY
    create_roles = None  # defaults to write_roles
    list_template = "admin/dd_list.html"
    details_template = "admin/dd_details.html"
    can_view_details = True
    can_export = False  # the built-in export loads every row; export_xlsx streams instead
    can_set_page_size = True
    page_size = 50
    page_size_options = (20, 50, 100, 200)
    search_prefix: tuple[str, ...] = ()
    search_exact: tuple[str, ...] = ()
    scope_locked_fields: tuple[str, ...] = ("sub_delegation",)
    enum_filters: tuple[str, ...] = ()
    extra_filters: tuple = ()

    def __init__(self, model, session, **kwargs):
        labels = label_map(model)
        labels.update(getattr(self, "column_labels", None) or {})
        self.column_labels = labels
        formatters = self.generated_formatters(model)
        formatters.update(getattr(self, "column_formatters", None) or {})
        self.column_formatters = formatters
        self.column_searchable_list = list(self.search_prefix + self.search_exact) or None
        self.column_filters = (self.generated_filters(model) + self.relation_and_date_filters(model)
                               + list(self.extra_filters))
        self.form_args = self.scoped_form_args(model)
        choices = enum_choices(model)
        choices.update(getattr(self, "form_choices", None) or {})
        self.form_choices = choices
        kwargs.setdefault("name", tr(model.__label__))
        kwargs.setdefault("endpoint", model.__tablename__)
        super().__init__(model, session, **kwargs)

    # --- access ---------------------------------------------------------------------------------
    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.role in self.read_roles

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)

    def _may_write(self, roles) -> bool:
        return current_user.is_authenticated and current_user.role in (roles or self.write_roles)

    @property
    def can_create(self) -> bool:
        return self._may_write(self.create_roles)

    @property
    def can_edit(self) -> bool:
        return self._may_write(self.write_roles)

    @property
    def can_delete(self) -> bool:
        return False  # nothing is hard-deleted from the back office; organisations have a soft delete

    # --- scope ----------------------------------------------------------------------------------
    def scoped_query(self):
        """The model's rows in the current user's scope, without list-only loading options."""
        return super().get_query().filter(visible(current_user, self.model))

    def list_options(self) -> tuple:
        """Loader options for list and details pages (e.g. usage columns computed in the same statement)."""
        return ()

    def get_query(self):
        return self.scoped_query().options(*self.list_options())

    def get_count_query(self):
        return super().get_count_query().filter(visible(current_user, self.model))

    def get_one(self, id):
        """A row in scope, or 404: a forged id must not reveal whether the row exists."""
        obj = row_by_id(self.get_query(), self.model, id)
        if obj is None:
            abort(404)
        return obj

    def _create_ajax_loader(self, name, options):
        remote = getattr(self.model, name).property.mapper.class_
        return ScopedAjaxLoader(name, self.session, remote, **options)

    def scoped_form_args(self, model) -> dict:
        """Relationship dropdowns list only rows in scope (Flask-Admin would query the whole table)."""
        args = dict(getattr(self, "form_args", None) or {})
        ajax = set(getattr(self, "form_ajax_refs", None) or {})
        for rel in inspect(model).relationships:
            if rel.direction.name == "MANYTOONE" and rel.key not in ajax:
                remote = rel.mapper.class_
                args.setdefault(rel.key, {})["query_factory"] = (
                    lambda remote=remote: db.session.query(remote).filter(visible(current_user, remote)))
        return args

    def edit_form(self, obj=None):
        """Columns that decide scope cannot be edited: moving a row goes through assign_delegation."""
        form = super().edit_form(obj)
        for name in self.scope_locked_fields:
            if hasattr(form, name):
                delattr(form, name)
        return form

    def on_model_change(self, form, model, is_created):
        scope_column = getattr(self.model, "__scope_column__", None)
        # The dropdowns are scoped already; this also refuses a forged value posted by hand.
        if scope_column and current_user.role is Role.SUB_DELEGATION_ADMIN:
            if scope_value(model, scope_column) not in current_user.sub_delegation_ids:
                raise DomainError("不能在其他交易分团下创建或修改记录")

    def handle_view_exception(self, exc) -> bool:
        if isinstance(exc, DomainError):
            flash(str(exc), "error")
            return True
        if isinstance(exc, IntegrityError):
            flash(integrity_message(exc), "error")
            return True
        return super().handle_view_exception(exc)

    # --- search ---------------------------------------------------------------------------------
    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Name by prefix (index-friendly), codes, ID numbers and mobiles exactly."""
        for term in search.split():
            conditions = [getattr(self.model, c).startswith(term, autoescape=True) for c in self.search_prefix]
            conditions += [getattr(self.model, c) == term for c in self.search_exact]
            query = query.filter(or_(*conditions))
            if count_query is not None:
                count_query = count_query.filter(or_(*conditions))
        return query, count_query, joins, count_joins

    # --- presentation ---------------------------------------------------------------------------
    def generated_formatters(self, model) -> dict:
        """Enum labels in the current language; ID numbers and mobiles masked for viewers."""
        formatters = {}
        for column in model.__table__.columns:
            if isinstance(column.type, SAEnum) and column.type.enum_class:
                formatters[column.key] = lambda v, c, m, n: enum_label(getattr(m, n))
            if column.info.get("sensitive"):
                formatters[column.key] = lambda v, c, m, n: masked_value(getattr(m, n))
        return formatters

    def generated_filters(self, model) -> list:
        """State, label and category filters with their Chinese names; sub-delegation and date filters."""
        filters = []
        for key in self.enum_filters:
            column = model.__table__.columns[key]
            options = lambda enum_cls=column.type.enum_class: [(m.value, enum_label(m)) for m in enum_cls]
            name = tr(column.info["label"])
            filters += [FilterEqual(column, name, options=options), FilterNotEqual(column, name, options=options),
                        FilterInList(column, name, options=options)]
        return filters

    def relation_and_date_filters(self, model) -> list:
        """Sub-delegation by name (joined, no extra query on the list page) and every date column."""
        filters = ["sub_delegation.name"] if "sub_delegation" in inspect(model).relationships else []
        filters += [c.key for c in model.__table__.columns
                    if isinstance(c.type, (Date, DateTime)) and c.key != "updated_at"]
        return filters

    def export_row(self, obj, columns) -> list:
        """Plain values of one row for xlsx: enum labels, masked personal data, related rows by name."""
        out = []
        for name in columns:
            value = obj
            for part in name.split("."):
                value = getattr(value, part, None) if value is not None else None
            column = self.model.__table__.columns.get(name)
            if isinstance(value, LabeledEnum):
                value = enum_label(value)
            elif column is not None and column.info.get("sensitive"):
                value = masked_value(value)
            elif hasattr(value, "__table__"):
                value = str(value)
            out.append(value)
        return out

    @expose("/export.xlsx")
    def export_xlsx(self):
        """Stream the filtered, scoped list to an xlsx file (constant memory)."""
        view_args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(view_args.sort)
        sort = sort_column[0] if sort_column is not None else None
        _, query = self.get_list(0, sort, view_args.sort_desc, view_args.search, view_args.filters,
                                 execute=False, page_size=0)
        columns = [name for name, _ in self._list_columns]
        headers = [str(label) for _, label in self._list_columns]
        handle, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        write_table(path, str(self.name), headers,
                    (self.export_row(obj, columns) for obj in query.yield_per(2000)))

        @after_this_request
        def _remove(response):
            try:
                os.remove(path)
            except OSError:
                pass
            return response

        filename = f"{self.endpoint}_{datetime.now():%Y%m%d_%H%M}.xlsx"
        return send_file(path, as_attachment=True, download_name=filename)

    def history(self, obj) -> list[AuditEntry]:
        """Audit entries of one object, newest first."""
        object_type = getattr(self, "object_type", None)
        if not object_type:
            return []
        return list(db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == object_type, AuditEntry.object_id == obj.id
        ).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(500)))

    def details_extra(self, obj) -> dict:
        """Extra blocks for the details page (usage against quotas, ...)."""
        return {}

    @expose("/details/")
    def details_view(self):
        obj_id = request.args.get("id")
        if obj_id is not None:
            obj = self.get_one(obj_id)
            self._template_args.update(history=self.history(obj), extra=self.details_extra(obj),
                                       enum_label=enum_label)
        return super().details_view()


def scope_value(obj, scope_column: str):
    """The row's sub-delegation id; before the flush a form has set only the relationship behind the column."""
    value = getattr(obj, scope_column, None)
    if value is not None:
        return value
    for rel in inspect(type(obj)).relationships:
        if any(c.key == scope_column for c in rel.local_columns):
            related = getattr(obj, rel.key, None)
            return related.id if related is not None else None
    return None


def row_by_id(query, model, pk):
    """The row with this id in the (scoped) query, or None; ids that are not numbers match nothing."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return query.filter(model.id == pk).one_or_none()


def enum_choices(model) -> dict:
    """Form choices for every enum column: stored value, label in the current language."""
    return {column.key: [(m.value, LazyString(enum_label, m)) for m in column.type.enum_class]
            for column in model.__table__.columns
            if isinstance(column.type, SAEnum) and column.type.enum_class}


def masked_value(value) -> str:
    """Personal data as the current user may see it."""
    if value is None:
        return ""
    if current_user.is_authenticated and current_user.role is Role.VIEWER:
        return mask(value)
    return str(value)


def label_map(model) -> dict:
    """Column and relationship labels from the models' (zh, en) info."""
    labels = {}
    mapper = inspect(model)
    for prop in mapper.attrs:
        info = getattr(prop, "info", None) or {}
        if not info.get("label") and hasattr(prop, "columns"):
            info = getattr(prop.columns[0], "info", None) or {}
        if info.get("label"):
            labels[prop.key] = tr(info["label"])
    labels["id"] = tr(("编号", "ID"))
    labels["sub_delegation.name"] = tr(("交易分团", "Sub-delegation"))
    return labels


def integrity_message(exc: IntegrityError) -> str:
    """A readable message for a database constraint that refused a change."""
    text = str(exc.orig)
    known = {
        "uq_organization_edition_uscc": "该统一社会信用代码本届已注册",
        "uq_person_edition_id_number": "该证件号码本届已登记",
        "uq_org_address_position": "该序号的地址已存在（每个单位最多 5 个地址）",
        "at_most_five": "每个单位最多 5 个快递地址",
        "admin_user_username": "用户名已存在",
        "domestic_needs_uscc": "境内单位须填写统一社会信用代码",
        "organization.edition_id, organization.uscc": "该统一社会信用代码本届已注册",
    }
    for key, message in known.items():
        if key in text:
            return message
    return "保存失败：数据不符合约束（" + text.splitlines()[0][:200] + "）"
