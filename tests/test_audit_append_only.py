"""The audit log is append-only in the database: the application's own connection cannot change it."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from factories import make_organization
from models import AuditEntry, OrgState
from models.registration import operations as ops


def test_an_audit_entry_can_be_neither_updated_nor_deleted(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    ops.approve_organizations(session, [org.id], actor=world.secretariat)
    session.commit()
    entry_id = session.scalar(select(AuditEntry.id).where(AuditEntry.action == "organization.approved"))
    for statement in (update(AuditEntry).where(AuditEntry.id == entry_id).values(action="organization.tampered"),
                      delete(AuditEntry).where(AuditEntry.id == entry_id)):
        with pytest.raises(DBAPIError, match="操作日志只能追加"):
            session.execute(statement)
        session.rollback()
    assert session.get(AuditEntry, entry_id).action == "organization.approved"
