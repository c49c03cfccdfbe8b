"""The engine's second line of defence: its writing statements decide again.

Normally nobody can change a row between the engine's check and its change (PostgreSQL locks the rows,
SQLite's BEGIN IMMEDIATE takes the write lock first). These tests take that lock away on purpose: the
session keeps pysqlite's legacy transactions, whose reads lock nothing, and another connection changes a
row in between (from the transition's allocation step). The row must be skipped with a readable reason,
never audited or changed a second time. SQLite only: on PostgreSQL the other connection would wait for
the engine's row locks.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from factories import bulk_persons, bulk_organizations, make_organization
from models import AuditEntry, CopayDecision, Organization, OrgState, Person, PersonState, Role
from models.engine import Allocation
from models.errors import DomainError
from models.engine import Workflow, run
from models.workflows import ORGANIZATION_WORKFLOW, PERSON_WORKFLOW
from models.engine import SUPERSEDED


@pytest.fixture(autouse=True)
def sqlite_only(backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL locks the rows: nobody can change them between check and change")


def meanwhile(engine, statement):
    """An allocation step that lets another connection commit `statement` between the check and the change."""

    def allocate(session, ids, *, params, actor):
        with engine.begin() as other:
            other.execute(statement)
        return Allocation(granted=list(ids))

    return allocate


def with_allocation(workflow: Workflow, name: str, role: Role, allocate) -> Workflow:
    """The workflow with only transition `name` (the variant `role` fires), given this allocation step."""
    transition = replace(workflow.for_role(name, role), allocate=allocate)
    return Workflow(workflow.model, workflow.object_type, workflow.states, (transition,))


def audited(session, action) -> list[int]:
    return sorted(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == action)))


def test_a_person_decided_by_someone_else_meanwhile_is_skipped_not_decided_twice(engine, session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 3, state=PersonState.PENDING_CONFIRMATION)
    session.commit()
    other_decides = update(Person).where(Person.id == ids[1]).values(
        copay=CopayDecision.CANCELLED.value, state=PersonState.PENDING_PAYMENT.value)
    workflow = with_allocation(PERSON_WORKFLOW, "confirm_copay", Role.SECRETARIAT, meanwhile(engine, other_decides))

    result = run(session, workflow, "confirm_copay", ids, actor=world.secretariat)
    session.commit()

    assert result.done == [ids[0], ids[2]] and result.skipped == {ids[1]: SUPERSEDED}
    assert audited(session, "person.copay_confirmed") == [ids[0], ids[2]]
    decided = dict(session.execute(select(Person.id, Person.copay).where(Person.id.in_(ids))).all())
    assert decided[ids[1]] == CopayDecision.CANCELLED  # the other decision stands, not overwritten
    assert {decided[ids[0]], decided[ids[2]]} == {CopayDecision.CONFIRMED}


def test_an_all_or_nothing_batch_with_a_row_changed_meanwhile_changes_nothing(engine, session, world):
    ids = bulk_organizations(session, world.subs["GZ"], 3, state=OrgState.SUBMITTED)
    session.commit()
    other_approves = update(Organization).where(Organization.id == ids[0]).values(state=OrgState.APPROVED.value)
    workflow = with_allocation(ORGANIZATION_WORKFLOW, "reject", Role.SECRETARIAT, meanwhile(engine, other_approves))

    with pytest.raises(DomainError, match=SUPERSEDED):
        run(session, workflow, "reject", ids, actor=world.secretariat, params={"reason": "非采购商"})
    session.rollback()

    states = dict(session.execute(select(Organization.id, Organization.state).where(Organization.id.in_(ids))).all())
    assert states == {ids[0]: OrgState.APPROVED, ids[1]: OrgState.SUBMITTED, ids[2]: OrgState.SUBMITTED}
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.object_type == "organization")) == 0
