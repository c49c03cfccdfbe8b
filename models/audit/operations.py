"""Writing the audit log: one entry per change, in the caller's transaction. Entries are never changed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models.audit.tables import AuditEntry
from models.base import utcnow
from models.delegation.tables import User


def record(session: Session, *, actor: User | None, action: str, object_type: str, object_id: int,
           sub_delegation_id: int | None, params: dict | None = None, from_state: str | None = None,
           to_state: str | None = None, now: datetime | None = None) -> None:
    """Append one audit entry (action is dotted, e.g. 'organization.edited'); flushes nothing else."""
    session.execute(insert(AuditEntry).values(
        at=now or utcnow(), actor_id=actor.id if actor is not None else None, action=action,
        object_type=object_type, object_id=object_id, sub_delegation_id=sub_delegation_id, params=params,
        from_state=from_state, to_state=to_state))
