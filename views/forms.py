"""Forms write through the domain: every create and edit is an operation; fields validated by their column."""
from __future__ import annotations

import math
from decimal import Decimal

from flask import abort, flash
from flask_login import current_user
from flask_babel import LazyString
from sqlalchemy import Enum as SAEnum
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from wtforms.validators import StopValidation, ValidationError

from models import DomainError
from models.edits import operations_for
from models.columns import value_range
from models.present import database_error_message, secret_columns
from views.i18n import enum_label, pick
from views.common import lang, log


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


class WritesThroughOperations:
    """create_model/update_model call the table's domain operation; refusals land on their field."""

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

    # --- writes: every create and edit is a domain operation (validation, scope, edit rules, audit) ----
    def form_values(self, form) -> dict:
        """The form's data as column values; a many-to-one choice becomes its foreign-key id."""
        mapper = inspect(self.model)
        relations = {r.key: r for r in mapper.relationships}
        columns = {a.key for a in mapper.column_attrs}
        values = {}
        for name, field in form._fields.items():
            if name in relations and relations[name].direction.name == "MANYTOONE":
                (local,) = relations[name].local_columns
                values[local.key] = field.data.id if field.data is not None else None
            elif name in relations:
                values[name] = list(field.data or [])
            elif name in columns:
                values[name] = field.data
        return values

    def create_model(self, form):
        create, _ = operations_for(self.model)
        if create is None:
            abort(403)
        return self._write(form, lambda values: create(self.db_session, values, actor=current_user))

    def update_model(self, form, model):
        _, edit = operations_for(self.model)
        if edit is None:
            abort(403)
        return bool(self._write(form, lambda values: edit(self.db_session, model, values, actor=current_user)
                                or model))

    def _write(self, form, operation):
        """Run one create/edit operation in its own transaction; a refusal goes on its field and changes nothing."""
        try:
            result = operation(self.form_values(form))
            self.db_session.commit()
        except Exception as exc:
            self.db_session.rollback()
            if isinstance(exc, DomainError) and exc.field:
                self.show_on_field(form, exc)
            if not self.handle_view_exception(exc):
                raise
            return False
        for warning in getattr(result, "warnings", None) or ():
            flash(warning, "warning")
        return result

    def show_on_field(self, form, exc) -> None:
        """Put a refusal under the field it concerns (its column, or the relationship behind the column)."""
        names = [exc.field] + [r.key for r in inspect(self.model).relationships
                               if any(c.key == exc.field for c in r.local_columns)]
        field = next((form[n] for n in names if n in form), None)
        if field is not None:
            field.errors = list(field.errors or []) + [str(exc)]

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


def enum_choices(model) -> dict:
    """Form choices for every enum column: stored value, label in the current language."""
    return {column.key: [(m.value, LazyString(enum_label, m)) for m in column.type.enum_class]
            for column in model.__table__.columns
            if isinstance(column.type, SAEnum) and column.type.enum_class}


def integrity_message(exc: IntegrityError) -> str:
    """A readable sentence for a database constraint that refused a change (never the driver's text)."""
    return database_error_message(exc, lang())
