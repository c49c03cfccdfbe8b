"""ScopedModelView: every Flask-Admin path (list, count, details, edit, ajax, export, actions) goes through visible().

It is made of three parts: scope (views/scope.py), writes through the domain (views/forms.py) and the
listing (views/listing.py), with shared helpers in views/common.py; this module composes them.
"""
from __future__ import annotations

from flask_admin.contrib.sqla import ModelView

from views.i18n import tr
from views.common import ALL_ROLES, SECRETARIAT_ONLY
from views.forms import WritesThroughOperations, enum_choices
from views.listing import Listing, label_map
from views.scope import ScopedAccess


class ScopedModelView(ScopedAccess, WritesThroughOperations, Listing, ModelView):
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
        # Timestamps are the system's to write: never a form field.
        self.form_excluded_columns = list(getattr(self, "form_excluded_columns", None) or ()) + [
            c for c in ("created_at", "updated_at") if c in model.__table__.c]
        self.form_args = self.scoped_form_args(model)
        choices = enum_choices(model)
        choices.update(getattr(self, "form_choices", None) or {})
        self.form_choices = choices
        kwargs.setdefault("name", tr(model.__label__))
        kwargs.setdefault("endpoint", model.__tablename__)
        super().__init__(model, session, **kwargs)
