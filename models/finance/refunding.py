"""Requesting refunds of order lines, set-based, and the checks that come first.

Seed 002 (退款): 当人员信息"审核不通过"或"注销"时可申请退款，支持批量退款; 此前转账支付，退款方式有两种：原路退回和
非原路返回（收款人名称、账号、开户银行、开户银行行号）; 如已开票，须先完成退票再申请退款.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, Select, String, insert, literal, select
from sqlalchemy.orm import Session

from models.delegation.tables import User
from models.engine import NOT_VISIBLE
from models.enums import OrderState, PaymentMethod, PersonState, RefundMethod, RefundState
from models.errors import InvalidParameter
from models.finance.balances import ACTIVE_REFUND_STATES, SETTLED_STATES, has_valid_invoice
from models.finance.common import Outcome, audit_from, lock_ids, refusal
from models.finance.tables import Order, OrderLine, Payment, Refund
from models.finance.workflow import INVOICE_FIRST
from models.ids import id_in
from models.registration.tables import Person
from models.scope import visible

REFUNDABLE_PERSONS = (PersonState.REVIEW_FAILED.value, PersonState.CANCELLED.value)
BANK_FIELDS = {"payee_name": ("收款人名称", 100), "bank_account": ("收款人账号", 40),
               "bank_name": ("收款人开户银行", 100), "bank_code": ("开户银行行号", 20)}


@dataclass
class RefundRequests(Outcome):
    """Order lines done (a refund requested) or skipped with a reason, and the refunds created."""

    refund_ids: list[int] = field(default_factory=list)


def clean_method(method, details: dict) -> tuple[RefundMethod, dict]:
    """The method and, for a bank account, all four details (trimmed); InvalidParameter names what is missing."""
    try:
        method = RefundMethod(method)
    except ValueError:
        raise InvalidParameter(f"「退款方式」的取值无效：{method}", field="method") from None
    if method is RefundMethod.ORIGINAL_ROUTE:
        return method, {key: None for key in BANK_FIELDS}
    clean = {}
    for key, (label, length) in BANK_FIELDS.items():
        value = str(details.get(key) or "").strip()
        if not value:
            raise InvalidParameter(f"退至银行账户须填写「{label}」", field=key)
        if len(value) > length:
            raise InvalidParameter(f"「{label}」不能超过 {length} 个字", field=key)
        clean[key] = value
    return method, clean


def _paid_by(order=Order):
    return (select(Payment.method).where(Payment.order_id == order.id, Payment.state.in_(SETTLED_STATES))
            .order_by(Payment.id.desc()).limit(1).scalar_subquery())


def _active_refund(line=OrderLine):
    return (select(Refund.state).where(Refund.order_line_id == line.id,
                                       Refund.state.in_(ACTIVE_REFUND_STATES + (RefundState.REFUNDED.value,)))
            .limit(1).scalar_subquery())


def _refusal_of(row, method: RefundMethod):
    if row.order_state != OrderState.PAID.value:
        return refusal(f"订单状态为「{OrderState(row.order_state).zh}」，只有已支付的订单可以退款", "state")
    if row.person_state not in REFUNDABLE_PERSONS:
        return refusal(f"人员状态为「{PersonState(row.person_state).zh}」，只有审核不通过或已注销的人员可以申请退款",
                       "state")
    if row.invoiced:
        return refusal(INVOICE_FIRST)
    if row.refund_state:
        return refusal(f"该人员已有退款（{RefundState(row.refund_state).zh}），不能重复申请")
    if method is RefundMethod.BANK_ACCOUNT and row.paid_by != PaymentMethod.TRANSFER.value:
        return refusal("扫码或B2B支付的订单只能原路退回")
    if not row.fee or row.fee <= 0:
        return refusal("该人员证件费为 0 元，无需退款")
    return None


def check_lines(session: Session, target, actor: User, method: RefundMethod) -> RefundRequests:
    """Lock the lines' orders (PostgreSQL, id order), then decide each line: refundable, or why not."""
    requested = None if isinstance(target, Select) else sorted({int(i) for i in target})
    target = target if requested is None else requested
    lock_ids(session, Order, select(OrderLine.order_id).where(id_in(OrderLine.id, target)))
    rows = session.execute(
        select(OrderLine.id, OrderLine.fee, Order.state.label("order_state"), Person.state.label("person_state"),
               has_valid_invoice(Order.id).label("invoiced"), _active_refund().label("refund_state"),
               _paid_by().label("paid_by"))
        .join(Order, Order.id == OrderLine.order_id).join(Person, Person.id == OrderLine.person_id)
        .where(id_in(OrderLine.id, target), visible(actor, OrderLine)).order_by(OrderLine.id)).all()
    outcome = RefundRequests()
    for missing in sorted(set(requested or ()) - {r.id for r in rows}):
        outcome.skipped[missing] = refusal(NOT_VISIBLE, "not_visible")
    for row in rows:
        reason = _refusal_of(row, method)
        if reason:
            outcome.skipped[row.id] = reason
        else:
            outcome.done.append(row.id)
    return outcome


def insert_refunds(session: Session, line_ids: list[int], method: RefundMethod, details: dict, reason: str | None,
                   *, actor: User, now: datetime) -> list[int]:
    """One refund per line, for the line's whole fee (what was paid for it); audited refund.requested."""
    stamp = literal(now, DateTime(timezone=True))
    values = {"method": literal(method.value, String()), "state": literal(RefundState.REQUESTED.value, String()),
              "reason": literal(reason, String()),
              **{k: literal(v, String()) for k, v in details.items()}, "created_at": stamp, "updated_at": stamp}
    rows = select(OrderLine.order_id, OrderLine.id, OrderLine.fee, OrderLine.fee, *values.values()).where(
        id_in(OrderLine.id, line_ids))
    refund_ids = sorted(session.scalars(insert(Refund).from_select(
        ["order_id", "order_line_id", "amount", "paid_amount", *values], rows).returning(Refund.id)))
    audit_params = {"method": method.value, **({"reason": reason} if reason else {})}
    audit_from(session, select(Refund.id, Order.sub_delegation_id, literal(None, String()), Refund.state)
               .join(Order, Order.id == Refund.order_id).where(id_in(Refund.id, refund_ids)),
               actor=actor, action="refund.requested", object_type="refund", params=audit_params, now=now)
    return refund_ids
