"""Putting persons on orders, set-based: one order per organisation, one line per person with its fee.

Whatever the number of persons, it is a fixed handful of statements: lock the persons, check them, one
INSERT ... SELECT of the orders (grouped by organisation, numbered in the same statement), one of the
lines, one of the audit entries.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Select, String, case, cast, exists, func, insert, literal, select, true
from sqlalchemy.orm import Session

from models.delegation.tables import User
from models.engine import NOT_VISIBLE
from models.enums import OrderState, OrgState, PersonState
from models.finance.common import Outcome, audit_from, lock_ids, refusal
from models.finance.fees import fee_expression
from models.finance.tables import Order, OrderLine
from models.ids import id_in
from models.registration.tables import Organization, Person
from models.scope import visible

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class OrderBatch(Outcome):
    """Persons done (put on an order) or skipped with a reason, and the orders created."""

    order_ids: list[int] = field(default_factory=list)


def local_time(now: datetime) -> datetime:
    """`now` in Beijing time, as the seeds' order numbers and deadlines read it."""
    return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(SHANGHAI)


def number_prefix(now: datetime) -> str:
    """V + timestamp + six random digits (seed 002: V20200512230313594063001); the sequence follows.

    The random part keeps two batches created in the same second (or back-dated to the same `now`)
    apart; the unique constraint on the number stays the last word.
    """
    return f"V{local_time(now):%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def _padded(seq) -> object:
    """The sequence as at least three digits ('001'), in portable SQL."""
    text = cast(seq, String())
    return case((seq < 10, literal("00") + text), (seq < 100, literal("0") + text), else_=text)


def _open_order_number(person=Person):
    return (select(Order.number).join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.person_id == person.id, OrderLine.is_open).limit(1).scalar_subquery())


def _candidates(session: Session, target, actor: User) -> list:
    """The persons asked for, in scope, with what decides whether they may go on an order."""
    org_deleted = exists().where(Organization.id == Person.organization_id, Organization.deleted_at.is_not(None))
    org_state = select(Organization.state).where(Organization.id == Person.organization_id).scalar_subquery()
    return session.execute(
        select(Person.id, Person.state, fee_expression().label("fee"), _open_order_number().label("open_order"),
               org_deleted.label("org_deleted"), org_state.label("org_state"))
        .where(id_in(Person.id, target), visible(actor, Person)).order_by(Person.id)).all()


def _refusal_of(row):
    if row.state != PersonState.PENDING_PAYMENT.value:
        return refusal(f"当前状态为「{PersonState(row.state).zh}」，只有待支付的人员可以生成订单", "state")
    if row.org_deleted:
        return refusal("所属单位已删除，不能生成订单")
    # Payment waits for the organisation's approval, like labels and co-payment (person_workflow.ORG_DECIDED).
    if row.org_state == OrgState.REJECTED.value:
        return refusal("所属单位审核不通过")
    if row.org_state != OrgState.APPROVED.value:
        return refusal("所属单位尚未审核通过")
    if row.open_order:
        return refusal(f"已在订单 {row.open_order} 中（取消或过期后才能重新生成订单）")
    if not row.fee or row.fee <= 0:
        return refusal("证件费为 0 元，无需支付")
    return None


def check_persons(session: Session, target, actor: User) -> OrderBatch:
    """Lock the persons (PostgreSQL, id order), then decide each: done (may go on an order) or skipped."""
    requested = None if isinstance(target, Select) else sorted({int(i) for i in target})
    lock_ids(session, Person, target if requested is None else requested)
    batch = OrderBatch()
    rows = _candidates(session, target if requested is None else requested, actor)
    for missing in sorted(set(requested or ()) - {r.id for r in rows}):
        batch.skipped[missing] = refusal(NOT_VISIBLE, "not_visible")
    for row in rows:
        reason = _refusal_of(row)
        if reason:
            batch.skipped[row.id] = reason
        else:
            batch.done.append(row.id)
    return batch


def insert_orders(session: Session, person_ids: list[int], *, actor: User, now: datetime) -> list[int]:
    """One order per organisation of these persons, with its lines and audit entries; the new order ids."""
    grouped = (select(Person.organization_id, func.min(Person.edition_id).label("edition_id"),
                      func.min(Person.sub_delegation_id).label("sub_delegation_id"),
                      func.sum(fee_expression()).label("total"),
                      func.row_number().over(order_by=Person.organization_id).label("seq"))
               .where(id_in(Person.id, person_ids)).group_by(Person.organization_id).subquery())
    stamp = literal(now, DateTime(timezone=True))
    rows = select(literal(number_prefix(now), String()) + _padded(grouped.c.seq), grouped.c.edition_id,
                  grouped.c.organization_id, grouped.c.sub_delegation_id, literal(OrderState.UNPAID.value, String()),
                  grouped.c.total, stamp, stamp)
    order_ids = sorted(session.scalars(insert(Order).from_select(
        ["number", "edition_id", "organization_id", "sub_delegation_id", "state", "total_amount", "created_at",
         "updated_at"], rows).returning(Order.id)))
    session.execute(insert(OrderLine).from_select(
        ["order_id", "person_id", "label", "is_reuse", "fee", "is_open"],
        select(Order.id, Person.id, Person.label, Person.is_reuse, fee_expression(), true())
        .join(Order, Order.organization_id == Person.organization_id)
        .where(id_in(Person.id, person_ids), id_in(Order.id, order_ids))))
    audit_from(session, select(Order.id, Order.sub_delegation_id, literal(None, String()), Order.state)
               .where(id_in(Order.id, order_ids)),
               actor=actor, action="order.created", object_type="order", params=None, now=now)
    return order_ids
