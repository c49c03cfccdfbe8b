"""Pieces every finance verb shares: row locks, set-based audit entries, role checks, per-row outcomes."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, Integer, Select, String, insert, literal, select
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.base import JsonType
from models.delegation.tables import User
from models.engine import Refusal
from models.errors import NotAllowed
from models.ids import id_in

AUDIT_COLUMNS = ["at", "actor_id", "action", "object_type", "object_id", "sub_delegation_id", "from_state",
                 "to_state", "params"]


@dataclass
class Outcome:
    """Per row (person, order line, refund …): done, or skipped with a reason a person can read."""

    done: list[int] = field(default_factory=list)
    skipped: dict[int, Refusal] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.skipped


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_ids(session: Session, model, ids: Iterable[int] | Select) -> None:
    """Lock these rows in id order (PostgreSQL), so concurrent finance actions queue instead of deciding twice.

    SQLite needs nothing here: its transactions begin IMMEDIATE (models/database.py) and hold the single
    write lock already. The check that follows must be a new statement, so that it sees what the
    transaction we waited for committed.
    """
    if is_postgresql(session):
        session.execute(select(model.id).where(id_in(model.id, ids)).order_by(model.id).with_for_update())


def require_role(actor: User, roles: frozenset, what: str) -> None:
    """NotAllowed unless the actor is active and has one of the roles."""
    if actor is None or not actor.active or actor.role not in roles:
        role = actor.role.zh if actor is not None else "未登录"
        raise NotAllowed(f"您的角色（{role}）无权{what}")


def audit_from(session: Session, rows: Select, *, actor: User, action: str, object_type: str,
               params: dict | None, now: datetime) -> int:
    """One INSERT ... SELECT of audit entries; `rows` selects (object id, sub-delegation id, from state, to state)."""
    found = rows.subquery()
    cols = list(found.c)
    statement = insert(AuditEntry).from_select(AUDIT_COLUMNS, select(
        literal(now, DateTime(timezone=True)), literal(actor.id if actor else None, Integer()),
        literal(action, String()), literal(object_type, String()), *cols, literal(params, JsonType)))
    return session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def refusal(message: str, code: str = "guard", field: str | None = None) -> Refusal:
    return Refusal(message, code, field)
