"""ScopedModelView: every Flask-Admin path (list, count, details, edit, ajax, export, actions) goes through visible()."""
from __future__ import annotations

import logging
import math
import os
import tempfile
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal

from flask import abort, after_this_request, flash, has_request_context, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin._compat import as_unicode
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import DEFAULT_PAGE_SIZE, QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import FilterEqual, FilterInList, FilterNotEqual
from flask_login import current_user
from flask_babel import LazyString
from sqlalchemy import Enum as SAEnum
from sqlalchemy import Date, DateTime, String, cast, false, inspect, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import joinedload
from wtforms.validators import StopValidation, ValidationError

from models import AuditEntry, DomainError, Role, User, visible
from models.base import LabeledEnum
from models.columns import type_range, value_range
from models.ids import INT4_MAX, INT4_MIN
from models.present import database_error_message, masked_columns, masking, secret_columns, shown
from reports.xlsx import write_table
from views.i18n import english, enum_label, pick, tr

ALL_ROLES = frozenset(Role)
SECRETARIAT_ONLY = frozenset({Role.SECRETARIAT})
# Bounds for what a URL may ask: beyond them a list answers an empty page, never a database error.
MAX_PAGE = 100_000
MAX_SEARCH_LENGTH = 200
MAX_AJAX_ROWS = 50
MAX_AJAX_OFFSET = 10_000
log = logging.getLogger(__name__)


def current_role() -> Role | None:
    """The signed-in user's role; None outside a request or signed out (None sees personal data masked)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.role
    return None


def lang() -> str:
    """The current request's language for models.present."""
    return "en" if english() else "zh"


def clean_text(value: str | None, limit: int = MAX_SEARCH_LENGTH) -> str:
    """A typed term as the database may receive it: no NUL (PostgreSQL refuses it), bounded length."""
    return (value or "").replace("\x00", "")[:limit]


def table_column(expression):
    """The table Column behind a column, an ORM attribute or a filter's column; None if there is none."""
    prop = getattr(expression, "property", None)
    if prop is not None and hasattr(prop, "columns"):
        return prop.columns[0]
    return expression if hasattr(expression, "info") and hasattr(expression, "table") else None


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Ajax lookups limited to the rows the current user may see, never by a column they see masked."""

    def get_query(self):
        return super().get_query().filter(visible(current_user, self.model))

    def get_one(self, pk):
        return row_by_id(self.get_query(), self.model, pk)

    def get_list(self, term, offset=0, limit=DEFAULT_PAGE_SIZE):
        fields = [f for f in self._cached_fields if not masking(table_column(f), current_role())]
        if not fields:
            return []
        pattern = "%" + escape_like(clean_text(term)) + "%"
        query = self.get_query().filter(or_(*(cast(f, String).ilike(pattern, escape="\\") for f in fields)))
        if self.order_by:
            query = query.order_by(self.order_by)
        offset = min(max(offset or 0, 0), MAX_AJAX_OFFSET)
        limit = min(max(limit or DEFAULT_PAGE_SIZE, 1), MAX_AJAX_ROWS)
        return query.offset(offset).limit(limit).all()


def escape_like(term: str) -> str:
    """A term matched literally inside LIKE: % and _ are characters, not wildcards."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def is_finite(value) -> bool:
    """False for NaN and infinities (Decimal or float)."""
    if isinstance(value, Decimal):
        return value.is_finite()
    return not isinstance(value, float) or math.isfinite(value)


class NumberInRange:
    """A form validator from the column's declared range: no NaN, no infinity, nothing outside [low, high]."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def __call__(self, form, field):
        value = field.data
        if value is None:
            return
        if not is_finite(value):
            raise StopValidation(pick(("请输入有效的数字", "Enter a valid number")))
        if value < self.low or value > self.high:
            low, high = f"{self.low:,}", f"{self.high:,}"
            if self.low == 0 and value < 0:
                raise StopValidation(pick((f"不能为负数（允许 0 到 {high}）", f"Cannot be negative (0 to {high})")))
            raise StopValidation(pick((f"须在 {low} 到 {high} 之间（最大 {high}）",
                                       f"Must be between {low} and {high} (at most {high})")))


class NotBefore:
    """A form validator: this date may not be before another date field of the same form."""

    def __init__(self, other: str, label: tuple[str, str], other_label: tuple[str, str]):
        self.other, self.label, self.other_label = other, label, other_label

    def __call__(self, form, field):
        other = form._fields.get(self.other)
        if field.data and other is not None and other.data and field.data < other.data:
            raise ValidationError(pick((f"{self.label[0]}不能早于{self.other_label[0]}",
                                        f"{self.label[1]} cannot be before {self.other_label[1]}")))


def column_validators(column) -> list:
    """The validators a column declares in its info (range, date order), for every form that edits it."""
    validators = []
    bounds = value_range(column)
    if bounds is not None:
        validators.append(NumberInRange(*bounds))
    other = column.info.get("not_before")
    if other:
        other_column = column.table.columns[other]
        validators.append(NotBefore(other, column.info["label"], other_column.info["label"]))
    return validators


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
        self.hide_secret_columns(model)
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

    @property
    def db_session(self):
        """The view's own SQLAlchemy session (registered with Flask-SQLAlchemy's `db`, whose .session it is)."""
        return getattr(self.session, "session", self.session)

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
        """Relationship dropdowns list only rows in scope (Flask-Admin would query the whole table);
        numbers and dates get the validators their columns declare."""
        args = {key: dict(value) for key, value in (getattr(self, "form_args", None) or {}).items()}
        ajax = set(getattr(self, "form_ajax_refs", None) or {})
        for rel in inspect(model).relationships:
            if rel.direction.name == "MANYTOONE" and rel.key not in ajax:
                remote = rel.mapper.class_
                args.setdefault(rel.key, {})["query_factory"] = (
                    lambda remote=remote: self.db_session.query(remote).filter(visible(current_user, remote)))
        for column in model.__table__.columns:
            validators = column_validators(column)
            if validators:
                field = args.setdefault(column.key, {})
                field["validators"] = list(field.get("validators", ())) + validators
        return args

    def hide_secret_columns(self, model) -> None:
        """Password hashes never leave the server: out of list, details, export and forms."""
        secret = sorted(secret_columns(model))
        if not secret:
            return
        for listed in ("column_list", "column_details_list", "column_export_list", "form_columns"):
            shown_columns = set(getattr(self, listed, None) or ())
            if shown_columns & set(secret):
                raise ValueError(f"{type(self).__name__}.{listed} shows a secret column: {secret}")
        for excluded in ("column_exclude_list", "column_details_exclude_list", "column_export_exclude_list",
                         "form_excluded_columns"):
            setattr(self, excluded, list(getattr(self, excluded, None) or ()) + secret)

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
        if isinstance(exc, SQLAlchemyError):
            # A sentence for the person; the driver's text (table, values, SQL) goes to the log only.
            log.warning("database refused a change in %s: %s", self.endpoint, exc)
            self.db_session.rollback()  # the language comes from the signed-in user, whom the failed session holds
            flash(database_error_message(exc, lang()), "error")
            return True
        return super().handle_view_exception(exc)

    # --- personal data: what the current user may see, search, filter and sort by -----------------
    def masked_for_user(self) -> dict[str, str]:
        """{column key: MASK | YEAR} of this model's columns the current user sees masked."""
        return masked_columns(self.model, current_role())

    @property
    def _sortable_columns(self):
        """Sortable columns minus those the current user sees masked: an order would rank the hidden values."""
        hidden = self.masked_for_user() if has_request_context() else {}
        return {k: v for k, v in self._all_sortable_columns.items() if k not in hidden}

    @_sortable_columns.setter
    def _sortable_columns(self, value):
        self._all_sortable_columns = value

    def exact_search_columns(self) -> list[str]:
        """Exactly matched search columns the current user may search by (none they see masked)."""
        hidden = self.masked_for_user()
        return [c for c in self.search_exact if c not in hidden]

    def search_placeholder(self):
        names = list(self.search_prefix) + self.exact_search_columns()
        return ", ".join(str(self.column_labels.get(n, n)) for n in names) or None

    # --- search ---------------------------------------------------------------------------------
    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Name by prefix (index-friendly), codes, ID numbers and mobiles exactly (never a masked column)."""
        exact = self.exact_search_columns()
        for term in clean_text(search).split():
            conditions = [getattr(self.model, c).startswith(term, autoescape=True) for c in self.search_prefix]
            conditions += [getattr(self.model, c) == term for c in exact]
            condition = or_(*conditions) if conditions else false()
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    # --- URL parameters: odd values are ignored with a notice, never a database error ------------
    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        args.search = clean_text(args.search) or None
        sort = self._get_column_by_idx(args.sort)
        if sort is not None and sort[0] in self.masked_for_user():
            args.sort = None  # the default order instead
        hidden = [c for c in self.search_exact if c in self.masked_for_user()]
        if args.search and hidden:
            names = "、".join(str(self.column_labels.get(c, c)) for c in hidden)
            flash(pick((f"您的角色不能按{names}搜索，已按其余字段搜索",
                        f"Your role cannot search by {names}; other fields were searched")), "info")
        return args

    def _get_list_filter_args(self):
        """Active filters from the URL; a refused or invalid one is dropped with a notice."""
        if not self._filters:
            return None
        filters = []
        for arg in request.args:
            if not arg.startswith("flt") or "_" not in arg:
                continue
            pos, key = arg[3:].split("_", 1)
            if key not in self._filter_args:
                continue
            idx, flt = self._filter_args[key]
            value = request.args[arg]
            problem = self.filter_problem(flt, value)
            if problem:
                flash(problem, "warning")
                continue
            filters.append((pos, (idx, as_unicode(flt.name), value)))
        return [f for _, f in sorted(filters, key=lambda f: f[0])]

    def filter_refused(self, flt) -> bool:
        """True for a filter on a column the current user sees masked (it would confirm a guess)."""
        return bool(masking(table_column(getattr(flt, "column", None)), current_role()))

    def filter_problem(self, flt, value: str) -> str | None:
        """Why this filter value cannot be applied, or None when it can."""
        name = str(flt.name)
        if self.filter_refused(flt):
            return pick((f"您的角色不能按「{name}」筛选，已忽略该条件",
                         f"Your role cannot filter by {name}; the filter was ignored"))
        invalid = pick((f"筛选条件「{name}」的值「{value[:50]}」无效，已忽略",
                        f"Invalid value for filter {name}: {value[:50]}; the filter was ignored"))
        if "\x00" in value:
            return invalid
        options = flt.get_options(self)
        if options:
            allowed = {str(v) for v, _ in options}
            raw = [v.strip() for v in value.split(",") if v.strip()] if isinstance(flt, FilterInList) else [value]
            if not raw or any(v not in allowed for v in raw):
                return invalid
        try:
            if not flt.validate(value):
                return invalid
            cleaned = flt.clean(value)
        except Exception:  # a filter's own parser: anything it cannot read is an invalid value
            return invalid
        bounds = type_range(table_column(getattr(flt, "column", None)))
        for item in cleaned if isinstance(cleaned, (list, tuple)) else [cleaned]:
            if isinstance(item, (int, float, Decimal)) and not isinstance(item, bool):
                if not is_finite(item) or (bounds and not bounds[0] <= item <= bounds[1]):
                    return invalid
        return None

    def _get_filter_groups(self):
        """The filter menu without the filters the current user may not use."""
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        return OrderedDict((name, items) for name, items in groups.items()
                           if not any(self.filter_refused(self._filters[i["index"]]) for i in items))

    # --- presentation ---------------------------------------------------------------------------
    def generated_formatters(self, model) -> dict:
        """Enum labels in the current language; personal data as the current user may see it."""
        formatters = {}
        for column in model.__table__.columns:
            if isinstance(column.type, SAEnum) and column.type.enum_class:
                formatters[column.key] = lambda v, c, m, n: enum_label(getattr(m, n))
            if column.info.get("sensitive"):
                formatters[column.key] = lambda v, c, m, n, column=column: shown_to_user(column, getattr(m, n))
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
                value = shown_to_user(column, value)
            elif hasattr(value, "__table__"):
                value = str(value)
            elif isinstance(value, (list, tuple, set)):  # a collection (e.g. a user's sub-delegations)
                value = "、".join(str(v) for v in value)
            out.append(value)
        return out

    def export_options(self) -> tuple:
        """Loader options for the export; they must stream (no joined collections: yield_per refuses them)."""
        return self.list_options()

    def export_query(self, view_args):
        """The list's rows as the user sees them (scope, search, filters, order), without paging."""
        query, joins = self.scoped_query().options(*self.export_options()), {}
        if self._search_supported and view_args.search:
            query, _, joins, _ = self._apply_search(query, None, joins, {}, view_args.search)
        if view_args.filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, {}, view_args.filters)
        for relation in self._auto_joins:
            if not relation.property.uselist:  # rows named by a related row: joined; collections stream
                query = query.options(joinedload(relation))
        sort = self._get_column_by_idx(view_args.sort)
        query, _ = self._apply_sorting(query, joins, sort[0] if sort else None, view_args.sort_desc)
        return query

    @expose("/export.xlsx")
    def export_xlsx(self):
        """Stream the filtered, scoped list to an xlsx file (constant memory)."""
        query = self.export_query(self._get_list_extra_args())
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
        return list(self.db_session.scalars(select(AuditEntry).where(
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
    """The row with this id in the (scoped) query, or None; ids that are not numbers (or no id's size) match nothing."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not INT4_MIN <= pk <= INT4_MAX:
        return None
    return query.filter(model.id == pk).one_or_none()


def enum_choices(model) -> dict:
    """Form choices for every enum column: stored value, label in the current language."""
    return {column.key: [(m.value, LazyString(enum_label, m)) for m in column.type.enum_class]
            for column in model.__table__.columns
            if isinstance(column.type, SAEnum) and column.type.enum_class}


def shown_to_user(column, value):
    """A value of a sensitive column as the current user may see it (masked, year only, or in clear)."""
    if value is None:
        return ""
    kind = masking(column, current_role())
    return shown(value, kind) if kind else value


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
    """A readable sentence for a database constraint that refused a change (never the driver's text)."""
    return database_error_message(exc, lang())
