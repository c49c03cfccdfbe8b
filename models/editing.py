"""Creates and edits as audited operations: apply the values, check scope, write one entry with the changes.

The area operations (models/<area>/operations.py) validate and apply their own rules first, then call
create_row / edit_row here. Nothing is committed: the caller owns the transaction, and a refusal
raised after the flush leaves the caller to roll back.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from models.audit.operations import record
from models.base import LabeledEnum, utcnow
from models.delegation.tables import User
from models.errors import InvalidParameter, NotAllowed
from models.present import mask
from models.scope import sub_delegation_expression, visible


def _plain(value):
    """A value as the audit log's JSON keeps it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, LabeledEnum):
        return value.value
    if isinstance(value, (Decimal, float, date, datetime)):
        return str(value)
    if hasattr(value, "id") and hasattr(value, "__table__"):
        return value.id
    if isinstance(value, (list, tuple, set)):
        return sorted(_plain(v) for v in value)
    return str(value)


def _audited(model, key: str, value):
    """The value written to the audit log: personal numbers masked, secrets never."""
    column = model.__table__.c.get(key)
    info = column.info if column is not None else {}
    if info.get("secret"):
        return "******"
    value = _plain(value)
    return mask(str(value)) if info.get("sensitive") and value not in (None, "") else value


def changes_of(obj, values: dict) -> dict[str, tuple]:
    """{field: (old, new)} for the values that differ from the row's current ones."""
    out = {}
    for key, new in values.items():
        old = getattr(obj, key)
        if _plain(old) != _plain(new):
            out[key] = (old, new)
    return out


def refuse_fields(values: dict, fields: Iterable[str], why: str) -> None:
    """InvalidParameter for the first of `fields` present in the values: that field cannot be set here."""
    for key in fields:
        if key in values:
            raise InvalidParameter(f"{why}（{key}）", field=key)


def _check_visible(session: Session, obj, actor: User) -> None:
    """After the flush: the row must be in the actor's scope, or the change is refused (caller rolls back)."""
    model = type(obj)
    if session.scalar(select(model.id).where(model.id == obj.id, visible(actor, model))) is None:
        raise NotAllowed("不能在您的权限范围之外创建或修改记录")


def _sub_delegation_of(session: Session, obj):
    model = type(obj)
    if not (getattr(model, "__scope_column__", None) or getattr(model, "__scope_parent__", None)):
        return None
    return session.scalar(select(sub_delegation_expression(model)).where(model.id == obj.id))


def create_row(session: Session, model, values: dict, *, actor: User, object_type: str,
               now: datetime | None = None):
    """Insert a row with these (validated) values and audit its creation with the values given."""
    obj = model(**values)
    session.add(obj)
    session.flush()
    _check_visible(session, obj, actor)
    params = {k: _audited(model, k, v) for k, v in values.items() if v not in (None, "", [])}
    record(session, actor=actor, action=f"{object_type}.created", object_type=object_type, object_id=obj.id,
           sub_delegation_id=_sub_delegation_of(session, obj), params=params or None,
           to_state=_plain(getattr(obj, "state", None)), now=now or utcnow())
    return obj


def edit_row(session: Session, obj, values: dict, *, actor: User, object_type: str,
             now: datetime | None = None) -> dict[str, tuple]:
    """Apply the (validated) values that change something and audit them as {field: [old, new]}."""
    _check_visible(session, obj, actor)  # before: a row out of scope is not edited at all
    changes = changes_of(obj, values)
    if not changes:
        return {}
    for key, (_, new) in changes.items():
        setattr(obj, key, new)
    session.flush()
    _check_visible(session, obj, actor)  # after: the edit must not move the row out of scope
    model = type(obj)
    params = {k: [_audited(model, k, old), _audited(model, k, new)] for k, (old, new) in changes.items()}
    record(session, actor=actor, action=f"{object_type}.edited", object_type=object_type, object_id=obj.id,
           sub_delegation_id=_sub_delegation_of(session, obj), params=params, now=now or utcnow())
    return changes


def column_keys(model) -> set[str]:
    """Attribute names of the model's columns and relationships."""
    mapper = inspect(model)
    return {a.key for a in mapper.column_attrs} | {r.key for r in mapper.relationships}
