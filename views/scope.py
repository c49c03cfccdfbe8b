"""Row scope on every Flask-Admin path: list, count, get-by-id, ajax lookups and relationship dropdowns."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_admin.contrib.sqla.ajax import DEFAULT_PAGE_SIZE, QueryAjaxModelLoader
from flask_login import current_user
from sqlalchemy import String, cast, inspect, or_

from models import visible
from models.ids import INT4_MAX, INT4_MIN
from models.present import masking
from views.common import MAX_AJAX_OFFSET, MAX_AJAX_ROWS, clean_text, current_role, escape_like, table_column
from views.forms import column_validators


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


class ScopedAccess:
    """Access by role and every query limited by visible(current_user, Model); a forged id answers 404."""

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

    def edit_form(self, obj=None):
        """Columns that decide scope cannot be edited: moving a row goes through assign_delegation."""
        form = super().edit_form(obj)
        for name in self.scope_locked_fields:
            if hasattr(form, name):
                delattr(form, name)
        return form


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
