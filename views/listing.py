"""The list page: search, filters, sort, masking of personal data, formatters, streaming export, details."""
from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal

from flask import after_this_request, flash, g, has_request_context, redirect, request, send_file, url_for
from flask_login import current_user
from flask_admin import expose
from flask_admin._compat import as_unicode
from flask_admin.contrib.sqla.filters import FilterEqual, FilterInList, FilterNotEqual
from markupsafe import Markup
from sqlalchemy import Enum as SAEnum
from sqlalchemy import Date, DateTime, false, inspect, or_, select
from sqlalchemy.orm import joinedload

from models import AuditEntry, DomainError
from models.base import LabeledEnum
from models.columns import type_range
from models.present import (action_label, actor_name, beijing, beijing_minute, describe_params, label_pair,
                            masked_columns, masking, model_for, object_type_of, referenced_ids, row_names, shown,
                            state_change, yes_no)
from reports.xlsx import write_table
from views.filters import DeletedFilter
from views.paging import CURSOR_ARGS, AtLeast, beyond, bounded_count, encode, keyset_column, read_cursor
from views.i18n import english, enum_label, pick, tr
from views.search import ANYWHERE, CASEFOLD, EXACT, LEADING, PREFIX, column_condition, describe, search_terms
from views.common import MAX_PAGE, clean_text, current_role, lang, table_column
from views.forms import is_finite


def _joined(values) -> str:
    return "、".join(str(v) for v in values)


# Values by type as people read them, in lists and on details pages (Flask-Admin shows True, None, UTC
# times to the microsecond and enum names): 是/否, Beijing time to the minute, labels, names joined.
TYPE_FORMATTERS = {
    type(None): lambda view, value, name: "",
    bool: lambda view, value, name: yes_no(value, lang()),
    datetime: lambda view, value, name: beijing_minute(value),
    date: lambda view, value, name: value.isoformat(),
    LabeledEnum: lambda view, value, name: enum_label(value),
    list: lambda view, value, name: _joined(value),
    tuple: lambda view, value, name: _joined(value),
    dict: lambda view, value, name: "；".join(f"{k}：{v}" for k, v in value.items()),
}


class Listing:
    """What a list and a details page show, and how they are searched, filtered, sorted and exported."""

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

    # --- search: how each column is matched is declared on the view (views/search.py) -----------
    search_anywhere: tuple[str, ...] = ()  # of search_prefix: by any part
    search_leading: tuple[str, ...] = ()  # of search_exact: also by a leading part of LEADING_MIN+ characters
    search_casefold: tuple[str, ...] = ()  # of search_exact: in upper case

    def search_how(self, name: str) -> str:
        """How a searchable column is matched: ANYWHERE, PREFIX, LEADING, CASEFOLD or EXACT."""
        if name in self.search_prefix:
            return ANYWHERE if name in self.search_anywhere else PREFIX
        if name in self.search_leading:
            return LEADING
        return CASEFOLD if name in self.search_casefold else EXACT

    def searchable_columns(self) -> list[str]:
        """Search columns the current user may search by (none they see masked)."""
        hidden = self.masked_for_user()
        return [c for c in (*self.search_prefix, *self.search_exact) if c not in hidden]

    def search_placeholder(self):
        """What the box searches, and how: 单位名称（任意部分）、统一社会信用代码或联系人手机（前6位起）."""
        columns = [(str(self.column_labels.get(c, c)), self.search_how(c)) for c in self.searchable_columns()]
        # Every searchable column may be masked for this role: say so rather than show "None".
        return describe(columns, english()) or pick(("此处没有您可搜索的内容", "Nothing here you may search by"))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Every typed word must match one searchable column, the way that column is searched."""
        dialect = self.db_session.get_bind().dialect.name
        columns = [(getattr(self.model, c), self.search_how(c)) for c in self.searchable_columns()]
        for term in search_terms(search):
            conditions = [column_condition(column, how, term, dialect) for column, how in columns]
            condition = or_(*conditions) if conditions else false()
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    # --- the list query: hidden rows until a filter asks, search, filters; figures with the count -
    def list_figures(self) -> dict:
        """{name: scalar SQL} the list page shows beside its rows (a quota counter, the edition's days).

        They are read in the count statement: a list page costs three statements (user, count, rows).
        """
        return {}

    def figures(self) -> dict:
        """The figures read with this request's count; empty before it, or on a list without a count."""
        return self._template_args.get("list_figures", {})

    def hidden_until_asked(self, filters) -> list:
        """Conditions keeping out the rows a filter must ask for (deleted organisations) unless one does."""
        asked = {id(self._filters[idx]) for idx, _, _ in filters or ()}
        return [~flt.hidden() for flt in self._filters or ()
                if isinstance(flt, DeletedFilter) and id(flt) not in asked]

    def narrow(self, query, count_query, joins, count_joins, search, filters):
        """The rows a list shows (and its export and 'all matching' act on): hidden rows out, search, filters."""
        for condition in self.hidden_until_asked(filters):
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        if self._search_supported and search:
            query, count_query, joins, count_joins = self._apply_search(query, count_query, joins, count_joins,
                                                                        search)
        if filters and self._filters:
            query, count_query, joins, count_joins = self._apply_filters(query, count_query, joins, count_joins,
                                                                         filters)
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Flask-Admin's (count, rows of the page), narrowed as above, the figures read with the count.

        A page reached by next/previous/last continues from the row at the edge of the one before
        (views/paging.py): no OFFSET, whatever the depth. Rows of a previous or last page are read in
        reverse order; page_rows turns them round."""
        count_query = None if self.simple_list_pager else self.get_count_query()
        query, count_query, joins, _ = self.narrow(self.get_query(), count_query, {}, {}, search, filters)
        count = self.read_count(count_query) if count_query is not None else None
        for relation in self._auto_joins:
            query = query.options(joinedload(relation))
        order = self.keyset_order(sort_column, sort_desc)
        cursor = self._template_args.get("list_cursor")
        if order is None:
            query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
            query = self._apply_pagination(query, page, page_size)
        else:
            query = self.keyset_page(query, order, cursor if cursor else None, page, page_size)
        return count, (self.page_rows(query.all()) if execute else query)

    # Lists whose page figures add up their own rows (a finance list's total) count exactly.
    exact_count = False

    def read_count(self, count_query) -> int:
        """The number of matching rows (bounded: views/paging.py); the page's figures come in the same
        statement and stay for the template."""
        figures = self.list_figures()
        if not self.exact_count:
            count, values = bounded_count(self.db_session, count_query, figures)
            self._template_args["list_figures"] = values
            return count
        if not figures:
            return count_query.scalar()
        row = count_query.add_columns(*figures.values()).one()
        self._template_args["list_figures"] = dict(zip(figures, row[1:]))
        return row[0]

    # --- keyset pages -----------------------------------------------------------------------------
    def keyset_order(self, sort_column, sort_desc):
        """(sort column, descending) when the list's order can be continued by keyset, else None."""
        if sort_column is not None:
            attribute = self._sortable_columns.get(sort_column)
            desc = bool(sort_desc)
        else:
            default = list(self._get_default_order())
            if len(default) != 1:
                return None
            attribute, _, desc = default[0]
        column = keyset_column(self.model, attribute)
        return (column, bool(desc)) if column is not None else None

    def keyset_page(self, query, order, cursor, page, page_size):
        """The page in (sort, id) order: numbered (OFFSET, shallow pages), or continued from a cursor."""
        column, desc = order
        id_column = self.model.__table__.c.id
        size = self.get_safe_page_size(page_size)
        backwards = cursor is not None and cursor.direction in ("before", "last")
        self._template_args["reversed_page"] = backwards
        if cursor is not None and cursor.direction != "last":
            query = query.filter(beyond(column, id_column, desc, cursor.value, cursor.row_id,
                                        forward=cursor.direction == "after"))
        reading_desc = desc != backwards
        keys = [column] if column is id_column else [column, id_column]
        ordering = [k.desc() if reading_desc else k.asc() for k in keys]
        if cursor is None and page:
            # A numbered page skips its rows by their ids alone (an index-only OFFSET), then loads just the
            # page: the row menus' guard columns are computed for 50 rows, not for every row skipped.
            skipped = query.with_entities(self.model.id).order_by(*ordering).offset(page * size).limit(size)
            query = query.filter(self.model.id.in_(skipped.subquery().select()))
        self._template_args["keyset_order"] = order
        return query.order_by(*ordering).limit(size)

    def page_rows(self, rows: list) -> list:
        """The rows in the list's order (a previous or last page is read backwards)."""
        return list(reversed(rows)) if self._template_args.get("reversed_page") else rows

    def pager(self, data, page: int, num_pages, count) -> dict | None:
        """First / previous / next / last links continuing by keyset, or None for Flask-Admin's numbered pager
        (a short list, or an order that cannot be continued by keyset)."""
        order = self._template_args.get("keyset_order")
        if order is None or (count is not None and type(count) is int and (num_pages or 0) <= 10):
            return None
        view_args = self._template_args.get("list_view_args")
        size = len(data)
        page_size = self.get_safe_page_size(view_args.page_size)
        cursor = self._template_args.get("list_cursor")
        column, _ = order

        def url(page_number, **cursor_args):
            extra = dict(view_args.extra_args, **cursor_args)
            return self._get_list_url(view_args.clone(page=page_number or None, extra_args=extra))

        def edge(row):
            return encode(getattr(row, column.key), row.id)

        last_page = cursor is not None and cursor.direction == "last"
        exact = count is not None and type(count) is int
        number = (num_pages - 1) if last_page and exact else (None if last_page else page)
        at_start = not page and (cursor is None or (cursor.direction == "before" and size < page_size))
        at_end = last_page or (size < page_size and not (cursor and cursor.direction == "before"))
        return {"first": url(0), "last": url((num_pages or 1) - 1 if exact else None, last="1"),
                "prev": None if at_start or not data else url(max((page or 1) - 1, 0), before=edge(data[0])),
                "next": None if at_end or not data else url((page or 0) + 1, after=edge(data[-1])),
                "number": number}

    # --- URL parameters: odd values are ignored with a notice, never a database error ------------
    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        # A keyset cursor is this page's alone: sort, search, filter and page-size links start afresh.
        self._template_args["list_cursor"] = read_cursor(request.args)
        args.extra_args = {k: v for k, v in args.extra_args.items() if k not in CURSOR_ARGS}
        self._template_args["list_view_args"] = args
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        args.search = clean_text(args.search) or None
        sort = self._get_column_by_idx(args.sort)
        if sort is not None and sort[0] in self.masked_for_user():
            args.sort = None  # the default order instead
        hidden = [c for c in (*self.search_prefix, *self.search_exact) if c in self.masked_for_user()]
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
        """True for a filter on a column the current user sees masked (it would confirm a guess), or one
        that says it is not for this user (deleted rows for those who never see them)."""
        if getattr(flt, "refused", None) and flt.refused():
            return True
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
        """The filter menu without the filters the current user may not use; options read for this request
        (the edition's entry days) filled in."""
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        for items in groups.values():
            for item in items:
                flt = self._filters[item["index"]]
                if hasattr(flt, "options_now"):
                    item["options"] = [(k, str(v)) for k, v in flt.options_now(self)] or None
        return OrderedDict((name, items) for name, items in groups.items()
                           if not any(self.filter_refused(self._filters[i["index"]]) for i in items))

    # --- presentation ---------------------------------------------------------------------------
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS

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
        """Sub-delegation by name (joined, no extra query on the list page) and every date column
        (but the deletion time: the 「已删除」 filter asks for deleted rows)."""
        filters = ["sub_delegation.name"] if "sub_delegation" in inspect(model).relationships else []
        filters += [c.key for c in model.__table__.columns
                    if isinstance(c.type, (Date, DateTime)) and c.key not in ("updated_at", "deleted_at")]
        return filters

    # Columns whose cell is words made from the row (the audit log's action, states and parameters):
    # {name: function(view, row) -> plain value}, used by the export; the list uses column_formatters.
    export_words: dict = {}

    def export_row(self, obj, columns) -> list:
        """Plain values of one row for xlsx: labels, 是/否, masked personal data, related rows by name, and
        times as real datetimes in Beijing time."""
        out = []
        for name in columns:
            if name in self.export_words:
                out.append(self.export_words[name](self, obj))
                continue
            value = obj
            for part in name.split("."):
                value = getattr(value, part, None) if value is not None else None
            column = self.model.__table__.columns.get(name)
            if isinstance(value, LabeledEnum):
                value = enum_label(value)
            elif column is not None and column.info.get("sensitive"):
                value = shown_to_user(column, value)
            elif isinstance(value, bool):
                value = yes_no(value, lang())
            elif isinstance(value, datetime):
                value = beijing(value)  # the sheet drops the zone: Beijing wall time, as the pages show
            elif hasattr(value, "__table__"):
                value = str(value)
            elif isinstance(value, (list, tuple, set)):  # a collection (e.g. a user's sub-delegations)
                value = _joined(value)
            out.append(value)
        return out

    def export_options(self) -> tuple:
        """Loader options for the export; they must stream (no joined collections: yield_per refuses them)."""
        return self.list_options()

    def export_query(self, view_args):
        """The list's rows as the user sees them (scope, hidden rows, search, filters, order), without paging."""
        query = self.scoped_query().options(*self.export_options())
        query, _, joins, _ = self.narrow(query, None, {}, {}, view_args.search, view_args.filters)
        for relation in self._auto_joins:
            if not relation.property.uselist:  # rows named by a related row: joined; collections stream
                query = query.options(joinedload(relation))
        sort = self._get_column_by_idx(view_args.sort)
        query, _ = self._apply_sorting(query, joins, sort[0] if sort else None, view_args.sort_desc)
        return query

    def list_narrowing(self) -> dict:
        """The list's current search and filters as JSON: what a background job rebuilds the same selection from."""
        view_args = self._get_list_extra_args()
        keys = {idx: key for key, (idx, _) in (self._filter_args or {}).items()}
        filters = [[keys[idx], value] for idx, _, value in view_args.filters or ()]
        return {"search": view_args.search, "filters": filters}

    def selection_of(self, narrowing: dict):
        """SELECT of the ids of the rows the list shows for this search and filters, in the current user's scope."""
        filters = []
        for key, value in narrowing.get("filters") or ():
            if key not in (self._filter_args or {}):
                raise DomainError("筛选条件已失效，请回到列表重新筛选")
            idx, flt = self._filter_args[key]
            filters.append((idx, str(flt.name), value))
        query, _, _, _ = self.narrow(self.scoped_query(), None, {}, {}, narrowing.get("search"), filters)
        return query.with_entities(self.model.id).statement

    def export_query_of(self, narrowing: dict, sort: int | None = None, desc: bool = False):
        """The export's rows for a search and filters as JSON (a background export rebuilds them so)."""
        view_args = self._get_list_extra_args()
        view_args.search, view_args.sort, view_args.sort_desc = narrowing.get("search"), sort, desc
        view_args.filters = []
        for key, value in narrowing.get("filters") or ():
            if key not in (self._filter_args or {}):
                raise DomainError("筛选条件已失效，请回到列表重新筛选")
            idx, flt = self._filter_args[key]
            view_args.filters.append((idx, str(flt.name), value))
        return self.export_query(view_args)

    def export_columns(self) -> tuple[list[str], list[str]]:
        """(column names, headers in the current language) the export writes: the list's own columns."""
        return [name for name, _ in self._list_columns], [str(label) for _, label in self._list_columns]

    @expose("/export.xlsx", methods=("GET", "POST"))
    def export_xlsx(self):
        """Stream the filtered, scoped list to an xlsx file (constant memory); a large one is a background job
        (started by the page's button, a POST, never by following a link)."""
        view_args = self._get_list_extra_args()
        count_query, _, _, _ = self.narrow(self.get_count_query(), None, {}, {}, view_args.search, view_args.filters)
        if self.export_is_large(count_query):
            return self.export_in_background(view_args)
        query = self.export_query(view_args)
        columns, headers = self.export_columns()
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

        return send_file(path, as_attachment=True, download_name=self.export_filename())

    def export_filename(self) -> str:
        return f"{self.endpoint}_{datetime.now():%Y%m%d_%H%M}.xlsx"

    def export_is_large(self, count_query) -> bool:
        """More rows than EXPORT_INLINE_ROWS (or beyond the bounded count, where only an estimate is known)."""
        from jobs.exports import inline_rows

        count, _ = bounded_count(self.db_session, count_query, {})
        return isinstance(count, AtLeast) or count > inline_rows()

    def export_in_background(self, view_args):
        """The list's export as a job of the user's: they follow it, and download it, on 我的任务."""
        back = self._get_list_url(view_args)
        if request.method != "POST":
            flash(pick(("数据量较大，请点击列表上方的「导出Excel」，将在后台生成", "This export is large: press "
                        "Export xlsx above the list to have it written in the background")), "info")
            return redirect(back)
        from jobs.list_exports import submit_list_export

        sort = self._get_column_by_idx(view_args.sort)
        job_id = submit_list_export(current_user._get_current_object(), view=self.endpoint, title=str(self.name),
                                    narrowing=self.list_narrowing(), sort=view_args.sort if sort else None,
                                    desc=bool(view_args.sort_desc), name=self.export_filename(), lang=lang())
        flash(pick((f"导出已转为后台任务（任务 {job_id}），完成后在「我的任务」下载",
                    f"The export runs in the background (job {job_id}); download it from My jobs when done")),
              "success")
        return redirect(url_for("jobs.index"))

    def history(self, obj) -> list[dict]:
        """Audit entries of one object, newest first, in words: when, who, what, states and parameters."""
        object_type = self.history_type()
        if not object_type:
            return []
        entries = list(self.db_session.scalars(select(AuditEntry).options(joinedload(AuditEntry.actor)).where(
            AuditEntry.object_type == object_type, AuditEntry.object_id == obj.id
        ).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(500)))
        names, language = self.param_names(entries), lang()
        return [{"at": beijing_minute(e.at), "actor": actor_name(e.actor, language),
                 "action": action_label(e.action, language),
                 "states": state_change(e.object_type, e.from_state, e.to_state, language),
                 "params": describe_params(e.object_type, e.action, e.params, language, names,
                                           self.masked_in_entries(e.object_type))} for e in entries]

    def masked_in_entries(self, object_type: str | None) -> dict[str, str]:
        """{key: MASK | YEAR} of an object type's personal values the current user sees masked in entries."""
        model = model_for(object_type)
        return masked_columns(model, current_role()) if model is not None else {}

    def history_type(self) -> str | None:
        """The object type of this view's rows in the audit log (None: its rows have no history)."""
        return getattr(self, "object_type", None) or object_type_of(self.model)

    def param_names(self, entries, action=lambda entry: entry.action) -> dict:
        """Names of the rows the entries' parameters name by id (sub_delegation_id -> 珠海市): one query per kind
        of row for all the entries, kept for the request, so a page's cells ask for nothing more."""
        known = g.setdefault("dd_row_names", {})
        wanted: dict = {}
        for entry in entries:
            for model, ids in referenced_ids(entry.object_type, action(entry), entry.params).items():
                wanted.setdefault(model, set()).update(i for i in ids if (model, i) not in known)
        wanted = {model: ids for model, ids in wanted.items() if ids}
        if wanted:
            known.update(dict.fromkeys(((m, i) for m, ids in wanted.items() for i in ids), None))
            known.update(row_names(self.db_session, wanted))
        return known

    def object_link(self, object_type: str | None, object_id):
        """The id of the object an entry is about, linked to its details page when the user may open it."""
        model = model_for(object_type)
        view = next((v for v in getattr(self.admin, "_views", ()) if model is not None
                     and getattr(v, "model", None) is model and v.can_view_details and v.is_accessible()), None)
        if view is None or object_id is None:
            return object_id if object_id is not None else ""
        return Markup('<a href="{}">{}</a>').format(url_for(f"{view.endpoint}.details_view", id=object_id),
                                                    object_id)

    def details_extra(self, obj) -> dict:
        """Extra blocks for the details page (usage against quotas, ...)."""
        return {}

    @expose("/details/")
    def details_view(self):
        obj_id = request.args.get("id")
        if obj_id is not None:
            obj = self.get_one(obj_id)
            self._template_args.update(extra=self.details_extra(obj), enum_label=enum_label)
            if self.history_type():  # the audit log's own pages have no history of their own
                self._template_args.update(history=self.history(obj))
        return super().details_view()


def shown_to_user(column, value):
    """A value of a sensitive column as the current user may see it (masked, year only, or in clear)."""
    if value is None:
        return ""
    kind = masking(column, current_role())
    return shown(value, kind) if kind else value


def label_map(model) -> dict:
    """Column and relationship labels from the models' (zh, en) info: every attribute a page may show."""
    labels = {}
    mapper = inspect(model)
    for prop in mapper.attrs:
        info = getattr(prop, "info", None) or {}
        if not info.get("label") and hasattr(prop, "columns"):
            info = getattr(prop.columns[0], "info", None) or {}
        pair = info.get("label") or label_pair(model, prop.key)  # a relationship by its key, derived usage
        if pair:
            labels[prop.key] = tr(pair)
    labels["id"] = tr(("编号", "ID"))
    labels["sub_delegation.name"] = tr(("交易分团", "Sub-delegation"))
    return labels
