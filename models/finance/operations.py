"""Verbs on orders, payments, invoices and refunds, one function each.

Every verb takes the session, its target (ids or a SELECT of ids, or one order), the acting user as a
keyword and its parameters; it flushes and never commits (the caller owns the transaction). Batch verbs
answer per row: done, or skipped with a reason a person can read (the engine's Result, or an Outcome of
the same shape). State changes go through the workflow tables in models/finance/workflow.py.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models.audit.operations import record
from models.base import utcnow
from models.delegation.tables import User
from models.engine import NOT_VISIBLE, Result, run
from models.enums import InvoiceKind, InvoiceState, OrderState, PartyKind, Role
from models.errors import InvalidParameter, InvalidState, NotFound
from models.finance import copay, invoicing, payments, refunding
from models.finance.balances import has_active_refund, has_valid_invoice, order_money
from models.finance.common import Outcome, lock_ids, refusal, require_role
from models.finance.fees import deadline_passed
from models.finance.ordering import SHANGHAI, OrderBatch, check_persons, insert_orders, local_time
from models.finance.tables import Invoice, Order, OrderLine
from models.finance.workflow import (ADMINS, FINANCE, INVOICE_WORKFLOW, ORDER_WORKFLOW, PAYMENT_WORKFLOW,
                                     REFUND_WORKFLOW, REQUESTERS)
from models.registration.tables import Person
from models.ids import id_in
from models.scope import visible

Ids = list[int] | Select  # the target rows: ids, or a SELECT of ids


# --------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------

def create_orders(session: Session, person_ids: Ids, *, actor: User, now: datetime | None = None) -> OrderBatch:
    """Put persons waiting for payment on orders: one per organisation (V + timestamp + sequence), a line each."""
    require_role(actor, ADMINS, "生成订单")
    now = now or utcnow()
    batch = check_persons(session, person_ids, actor)
    if batch.done:
        batch.order_ids = insert_orders(session, batch.done, actor=actor, now=now)
    session.flush()
    return batch


def cancel_orders(session: Session, ids: Ids, *, actor: User, reason: str | None = None,
                  now: datetime | None = None) -> Result:
    """Cancel unpaid orders; their persons stay pending payment and may be put on a new order."""
    return run(session, ORDER_WORKFLOW, "cancel", ids, actor=actor, params={"reason": reason}, now=now)


def expire_orders(session: Session, *, actor: User, as_of: date | None = None, now: datetime | None = None) -> Result:
    """Expire every unpaid order whose method's deadline lies before `as_of` (default: today in Beijing).

    Idempotent: a second run finds nothing left to expire.
    """
    as_of = as_of or local_time(now or utcnow()).date()
    target = select(Order.id).where(Order.state == OrderState.UNPAID.value, deadline_passed(Order, as_of))
    return run(session, ORDER_WORKFLOW, "expire", target, actor=actor, params={"as_of": as_of}, now=now)


# --------------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------------

def record_gateway_payment(session: Session, *, actor: User, order_number: str, method: str, amount,
                           reference: str, paid_at: datetime, payer_name: str | None = None,
                           now: datetime | None = None) -> payments.GatewayOutcome:
    """Record a QR or B2B payment once per (method, reference); the order is paid when it is covered.

    The same notification again finds the payment it recorded and answers the same. An amount other than
    what the order asks is refused with the difference; nothing is recorded then.
    """
    require_role(actor, FINANCE, "记录网关支付")
    method = payments.gateway_method(method)
    amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    reference = str(reference or "").strip()
    if not reference or len(reference) > 100:
        raise InvalidParameter("交易流水号须为 1 到 100 个字符", field="reference")
    now = now or utcnow()
    # Stored in UTC like every timestamp (SQLite keeps no offset); a naive time is taken as Beijing time.
    paid_at = (paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=SHANGHAI)).astimezone(timezone.utc)
    order, outcome = payments.decide_gateway(session, order_number, method, amount, reference)
    if outcome is not None:
        return outcome
    payment = payments.new_gateway_payment(session, order, method, amount, reference, paid_at, payer_name)
    session.add(payment)
    session.flush()
    record(session, actor=actor, action="payment.recorded", object_type="payment", object_id=payment.id,
           sub_delegation_id=order.sub_delegation_id, to_state=payment.state.value, now=now,
           params={"order": order.number, "method": method.value, "amount": f"{amount:.2f}", "reference": reference})
    run(session, ORDER_WORKFLOW, "pay", [order.id], actor=actor, now=now)
    return payments.GatewayOutcome(ok=True, order_number=order.number, method=method.value, reference=reference,
                                   amount=f"{amount:.2f}", payment_id=payment.id)


def submit_voucher(session: Session, order_id: int, *, actor: User, voucher: str, amount, payer_kind: str,
                   payer_name: str, payer_bank: str | None = None, payer_account: str | None = None,
                   payer_phone: str | None = None, reference: str | None = None,
                   now: datetime | None = None) -> Result:
    """Attach a transfer voucher (a file stored by models.files, kind "voucher") to an unpaid order for review."""
    now = now or utcnow()
    require_role(actor, REQUESTERS, "上传汇款凭证")
    payments.check_voucher(session, order_id, actor=actor, voucher=voucher, amount=amount, now=now)
    params = {"voucher": voucher, "amount": amount, "payer_kind": payer_kind, "payer_name": payer_name,
              "payer_bank": payer_bank, "payer_account": payer_account, "payer_phone": payer_phone,
              "reference": reference}
    return run(session, ORDER_WORKFLOW, "submit_voucher", [order_id], actor=actor, params=params, now=now)


def verify_payments(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Finance verifies submitted vouchers; orders they cover are paid and their persons go on to review."""
    return run(session, PAYMENT_WORKFLOW, "verify", ids, actor=actor, params={}, now=now)


def reject_vouchers(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Finance rejects submitted vouchers with a reason; the order is unpaid again, the voucher stays on record."""
    return run(session, PAYMENT_WORKFLOW, "reject", ids, actor=actor, params={"reason": reason}, now=now)


# --------------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------------

def request_invoice(session: Session, order_id: int, *, actor: User, kind: str, title: str | None = None,
                    title_kind: str = PartyKind.ORGANIZATION.value, tax_number: str | None = None,
                    mobile: str | None = None, email: str | None = None, address: str | None = None,
                    phone: str | None = None, bank_name: str | None = None, bank_account: str | None = None,
                    note: str | None = None, now: datetime | None = None) -> Invoice:
    """Request the one invoice of a paid order (electronic normal or paper special) for what the order holds.

    Paid by B2B or by an organisation's transfer, the title is the paying organisation's and cannot be changed.
    """
    require_role(actor, REQUESTERS, "申请开票")
    now = now or utcnow()
    try:
        kind, title_kind = InvoiceKind(kind), PartyKind(title_kind)
    except ValueError as exc:
        raise InvalidParameter(f"发票类型或抬头类型无效：{exc}") from None
    fields = invoicing.clean_fields(dict(title=title, tax_number=tax_number, mobile=mobile, email=email,
                                         address=address, phone=phone, bank_name=bank_name,
                                         bank_account=bank_account, note=note))
    lock_ids(session, Order, [order_id])
    row = session.execute(select(Order.id, Order.state, Order.sub_delegation_id,
                                 has_valid_invoice(Order.id).label("invoiced"),
                                 has_active_refund(Order.id).label("refunding"))
                          .where(Order.id == order_id, visible(actor, Order))).first()
    if row is None:
        raise NotFound("订单不存在或不在您的权限范围内")
    if row.state != OrderState.PAID.value:
        raise InvalidState(f"订单状态为「{OrderState(row.state).zh}」，支付后才能开票")
    amount = invoicing.refuse_unless_invoiceable(order_money(session, [order_id])[order_id], row.invoiced,
                                                 row.refunding)
    title_kind = invoicing.settle_title(session, order_id, title_kind, fields)
    invoicing.check_fields(kind, title_kind, fields)
    invoice = invoicing.new_invoice(order_id, kind, title_kind, fields, amount)
    session.add(invoice)
    session.flush()
    record(session, actor=actor, action="invoice.requested", object_type="invoice", object_id=invoice.id,
           sub_delegation_id=row.sub_delegation_id, to_state=InvoiceState.REQUESTED.value, now=now,
           params={"kind": kind.value, "title": fields["title"], "amount": f"{amount:.2f}"})
    return invoice


def issue_invoices(session: Session, ids: Ids, *, actor: User, number: str, courier_company: str | None = None,
                   courier_number: str | None = None, now: datetime | None = None) -> Result:
    """Finance issues a requested invoice with its number (paper special ones with the courier's number).

    Each invoice has its own number, so one invoice at a time: several ids with one number are refused.
    """
    if not isinstance(ids, Select) and len(set(ids)) > 1:
        raise InvalidParameter("每张发票的号码不同，请逐张开具", field="number")
    return run(session, INVOICE_WORKFLOW, "issue", ids, actor=actor, now=now,
               params={"number": number, "courier_company": courier_company, "courier_number": courier_number})


def request_invoice_voids(session: Session, ids: Ids, *, actor: User, reason: str,
                          now: datetime | None = None) -> Result:
    """Ask finance to void issued invoices (退票), with the reason."""
    return run(session, INVOICE_WORKFLOW, "request_void", ids, actor=actor, params={"reason": reason}, now=now)


def void_invoices(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Finance voids invoices (退票); the order may then be refunded, or invoiced anew."""
    return run(session, INVOICE_WORKFLOW, "void", ids, actor=actor, params={"reason": reason}, now=now)


# --------------------------------------------------------------------------------------------------
# Refunds
# --------------------------------------------------------------------------------------------------

def request_refund(session: Session, line_ids: Ids, *, actor: User, method: str, payee_name: str | None = None,
                   bank_account: str | None = None, bank_name: str | None = None, bank_code: str | None = None,
                   reason: str | None = None, now: datetime | None = None) -> refunding.RefundRequests:
    """Request refunds of paid order lines whose person failed review or was cancelled (批量: many lines at once).

    The method is the original route, or (for transfers) a bank account with payee, account, bank and bank
    code. Refused while the order has a valid invoice: 请先作废发票.
    """
    require_role(actor, REQUESTERS, "申请退款")
    now = now or utcnow()
    method, details = refunding.clean_method(method, dict(payee_name=payee_name, bank_account=bank_account,
                                                          bank_name=bank_name, bank_code=bank_code))
    reason = (reason or "").strip() or None
    outcome = refunding.check_lines(session, line_ids, actor, method)
    if outcome.done:
        outcome.refund_ids = refunding.insert_refunds(session, outcome.done, method, details, reason,
                                                      actor=actor, now=now)
    session.flush()
    return outcome


def request_refunds_of_persons(session: Session, person_ids: Ids, *, actor: User, method: str,
                               **details) -> Outcome:
    """request_refund for persons (审核不通过 or 注销) rather than order lines: each person's paid line.

    The outcome is told per person, as the user chose them; a person outside the actor's scope is not
    visible, one without a paid order is told so.
    """
    chosen = set(session.scalars(person_ids)) if isinstance(person_ids, Select) else {int(i) for i in person_ids}
    visible_ids = select(Person.id).where(id_in(Person.id, sorted(chosen)), visible(actor, Person))
    lines = dict(session.execute(select(OrderLine.id, OrderLine.person_id).join(Order).where(
        OrderLine.person_id.in_(visible_ids), Order.state == OrderState.PAID.value)).all())
    outcome = request_refund(session, list(lines), actor=actor, method=method, **details) if lines else Outcome()
    by_person = Outcome(done=sorted(lines[i] for i in outcome.done),
                        skipped={lines[i]: why for i, why in outcome.skipped.items()})
    seen = set(session.scalars(visible_ids))
    for person_id in sorted(chosen - set(lines.values())):
        by_person.skipped[person_id] = (refusal("该人员没有已支付的订单，无需退款", "state") if person_id in seen
                                        else refusal(NOT_VISIBLE, "not_visible"))
    return by_person


def approve_refunds(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Finance approves requested refunds (refused while the order has a valid invoice)."""
    return run(session, REFUND_WORKFLOW, "approve", ids, actor=actor, params={}, now=now)


def reject_refunds(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Finance rejects requested or approved refunds with a reason; the line may be asked for again."""
    return run(session, REFUND_WORKFLOW, "reject", ids, actor=actor, params={"reason": reason}, now=now)


def mark_refunded(session: Session, ids: Ids, *, actor: User, batch: str | None = None,
                  now: datetime | None = None) -> Result:
    """Finance records approved refunds as paid out."""
    return run(session, REFUND_WORKFLOW, "mark_refunded", ids, actor=actor, params={"batch": batch}, now=now)


@dataclass
class BatchRefund(Outcome):
    """Refunds done (approved if need be and paid out in this batch) or skipped with a reason, and the batch number."""

    batch: str = ""


def new_batch_number(now: datetime) -> str:
    """RB + Beijing timestamp + eight random hex digits: names the batch and its bank file."""
    return f"RB{local_time(now):%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def batch_refund(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> BatchRefund:
    """Approve and mark refunded the selected refunds in one set-based step, with a per-row report.

    Two engine transitions (approve, mark_refunded) over the same ids: a constant number of statements
    whatever the count. Refunds already refunded are skipped, so running it twice refunds nothing twice.
    The bank batch file for those not refunded by the original route: reports.finance.write_bank_batch.
    """
    require_role(actor, FINANCE, "批量退款")
    now = now or utcnow()
    ids = sorted(session.scalars(ids)) if isinstance(ids, Select) else sorted({int(i) for i in ids})
    batch = new_batch_number(now)
    approved = approve_refunds(session, ids, actor=actor, now=now)
    refunded = mark_refunded(session, ids, actor=actor, batch=batch, now=now)
    outcome = BatchRefund(done=refunded.done, batch=batch)
    for refund_id, why in refunded.skipped.items():
        earlier = approved.skipped.get(refund_id)
        # A refund the approval refused is told that reason (an invoice, say), not "not approved".
        outcome.skipped[refund_id] = earlier if earlier is not None and earlier.code != "state" else why
    return outcome


# --------------------------------------------------------------------------------------------------
# Co-payment
# --------------------------------------------------------------------------------------------------

def give_back_copayment(session: Session, person_ids: Ids, *, actor: User, reason: str | None = None,
                        now: datetime | None = None) -> list[int]:
    """Give the co-payment of cancelled or review-failed co-paid persons back to their sub-delegation's budget."""
    require_role(actor, REQUESTERS | frozenset({Role.SECRETARIAT}), "退回统付额度")
    return copay.give_back(session, person_ids, actor=actor, now=now, reason=reason)
