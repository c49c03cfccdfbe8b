"""Verbs on organisations and persons, one function each: they run the workflow tables' transitions.

Every verb takes the session, the target ids (or a SELECT of ids), the acting user as a keyword and
the transition's parameters; it flushes and never commits (the caller owns the transaction) and
returns the engine's Result: rows done, rows skipped with a reason a person can read.
`now` back-dates the change (importers and the demo history).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.orm import Session

from models.delegation.tables import User
from models.engine import Result, run
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW
from models.registration.person_workflow import PERSON_WORKFLOW

Ids = list[int] | Select  # the target rows: ids, or a SELECT of ids


def submit_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit draft organisations for review; recognised enterprises and public institutions are approved at once."""
    return run(session, ORGANIZATION_WORKFLOW, "submit", ids, actor=actor, params={}, now=now)


def resubmit_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit returned organisations again after their edit."""
    return run(session, ORGANIZATION_WORKFLOW, "resubmit", ids, actor=actor, params={}, now=now)


def approve_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Approve: the first review for a sub-delegation admin, the second (复审) for the secretariat."""
    return run(session, ORGANIZATION_WORKFLOW, "approve", ids, actor=actor, params={}, now=now)


def return_organizations_for_edit(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Return organisations under review to the registrant with a reason they will read."""
    return run(session, ORGANIZATION_WORKFLOW, "return_for_edit", ids, actor=actor, params={"reason": reason}, now=now)


def reject_organizations(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Reject organisations (all or nothing): they lose their registration."""
    return run(session, ORGANIZATION_WORKFLOW, "reject", ids, actor=actor, params={"reason": reason}, now=now)


def assign_delegation(session: Session, ids: Ids, *, actor: User, sub_delegation_id: int, now: datetime | None = None) -> Result:
    """Move organisations, with their persons, orders and deals, to another sub-delegation."""
    return run(session, ORGANIZATION_WORKFLOW, "assign_delegation", ids, actor=actor, params={"sub_delegation_id": sub_delegation_id}, now=now)


def delete_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Soft-delete organisations (the secretariat can restore them)."""
    return run(session, ORGANIZATION_WORKFLOW, "delete", ids, actor=actor, params={}, now=now)


def restore_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Restore soft-deleted organisations."""
    return run(session, ORGANIZATION_WORKFLOW, "restore", ids, actor=actor, params={}, now=now)


def submit_persons(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit saved persons for the delegation's confirmation."""
    return run(session, PERSON_WORKFLOW, "submit", ids, actor=actor, params={}, now=now)


def set_label(session: Session, ids: Ids, *, actor: User, label: str, now: datetime | None = None) -> Result:
    """Label persons VIP, staff or professional visitor within the quotas."""
    return run(session, PERSON_WORKFLOW, "set_label", ids, actor=actor, params={"label": label}, now=now)


def confirm_copay(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Confirm co-payment (decided once): the fee is taken from the sub-delegation's budget."""
    return run(session, PERSON_WORKFLOW, "confirm_copay", ids, actor=actor, params={}, now=now)


def cancel_copay(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Cancel co-payment (decided once): professional visitors then pay themselves."""
    return run(session, PERSON_WORKFLOW, "cancel_copay", ids, actor=actor, params={}, now=now)


def lock_submit(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Lock-submit badge-reuse persons: on to payment or review."""
    return run(session, PERSON_WORKFLOW, "lock_submit", ids, actor=actor, params={}, now=now)


def upgrade_label(session: Session, ids: Ids, *, actor: User, label: str, now: datetime | None = None) -> Result:
    """Upgrade persons' label (never down); a produced badge becomes invalid."""
    return run(session, PERSON_WORKFLOW, "upgrade_label", ids, actor=actor, params={"label": label}, now=now)


def mark_paid(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Mark persons waiting for payment as paid."""
    return run(session, PERSON_WORKFLOW, "payment_received", ids, actor=actor, params={}, now=now)


def pass_review(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record a passed background review."""
    return run(session, PERSON_WORKFLOW, "review_pass", ids, actor=actor, params={}, now=now)


def fail_review(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Record a failed background review with its reason."""
    return run(session, PERSON_WORKFLOW, "review_fail", ids, actor=actor, params={"reason": reason}, now=now)


def produce_badges(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record that persons' badges were produced (a badge number is given)."""
    return run(session, PERSON_WORKFLOW, "badge_produced", ids, actor=actor, params={}, now=now)


def issue_badges(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record that persons' badges were handed out."""
    return run(session, PERSON_WORKFLOW, "badge_issued", ids, actor=actor, params={}, now=now)


def cancel_persons(session: Session, ids: Ids, *, actor: User, reason: str | None = None, now: datetime | None = None) -> Result:
    """Cancel persons' badge applications before issue."""
    return run(session, PERSON_WORKFLOW, "cancel", ids, actor=actor, params={"reason": reason}, now=now)
