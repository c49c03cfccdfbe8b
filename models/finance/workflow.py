"""The finance workflows as engine tables: orders, payments, invoices, refunds, and the person step money makes.

Locks are taken in one order everywhere: payments, invoices or refunds first (the engine locks the rows a
transition acts on), then their orders (the allocation steps below), then order lines and persons. Verbs
that insert rows (orders, vouchers, gateway payments, invoices, refunds) lock the orders or persons they
hang on first, so the same rows queue in the same order and no two finance users decide a row twice.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Numeric, String, exists, false, func, insert, literal, or_, select, true, update
from sqlalchemy.orm import aliased

from models.engine import Allocation, Guard, Param, Transition, Workflow, run
from models.enums import (InvoiceKind, InvoiceState, OrderState, PartyKind, PaymentMethod, PaymentState, PersonState,
                          RefundState, Role)
from models.finance.balances import SETTLED_STATES, amount_due, has_valid_invoice, settled_amount
from models.finance.common import audit_from, lock_ids
from models.finance.fees import deadline_passed
from models.finance.tables import Invoice, Order, OrderLine, Payment, Refund
from models.ids import id_in
from models.registration.tables import Person

O, P, I, R = OrderState, PaymentState, InvoiceState, RefundState
FINANCE = frozenset({Role.FINANCE})
ADMINS = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
REQUESTERS = ADMINS | FINANCE  # who may act for an organisation: its admins, the secretariat, finance
EXPIRERS = frozenset({Role.SECRETARIAT, Role.FINANCE})

REASON = Param("reason", ("原因", "Reason"))
INVOICE_FIRST = "订单有未作废的发票，请先作废发票（退票）后再退款"


# --------------------------------------------------------------------------------------------------
# Steps the transitions take after their change (engine `after` and `allocate` hooks)
# --------------------------------------------------------------------------------------------------

def close_lines(session, order_ids, *, params, actor, now) -> None:
    """A cancelled or expired order frees its persons: they may be put on a new order."""
    session.execute(update(OrderLine).where(id_in(OrderLine.order_id, order_ids), OrderLine.is_open)
                    .values(is_open=False).execution_options(synchronize_session=False))


def persons_paid(session, order_ids, *, params, actor, now) -> None:
    """The persons of paid orders leave pending_payment for the background review (audited person.paid)."""
    persons = select(OrderLine.person_id).where(id_in(OrderLine.order_id, order_ids), OrderLine.is_open)
    run(session, PERSON_PAYMENT_WORKFLOW, "order_paid", persons, actor=actor, now=now)


def insert_voucher_payments(session, order_ids, *, params, actor, now) -> None:
    """The voucher and remitter's details of a submitted transfer become a payment row under review."""
    values = {"state": P.SUBMITTED.value, "method": PaymentMethod.TRANSFER.value, "amount": params["amount"],
              "voucher_file": params["voucher"], "payer_kind": params["payer_kind"],
              "payer_name": params["payer_name"], "payer_bank": params.get("payer_bank"),
              "payer_account": params.get("payer_account"), "payer_phone": params.get("payer_phone"),
              "reference": params.get("reference"), "paid_at": now, "created_at": now}
    columns = ["order_id", *values]
    session.execute(insert(Payment).from_select(columns, select(
        Order.id, *(literal(v, Payment.__table__.c[k].type) for k, v in values.items()))
        .where(id_in(Order.id, order_ids))))
    new = (select(Payment.id, Order.sub_delegation_id, literal(None, String()), Payment.state)
           .join(Order, Order.id == Payment.order_id)
           .where(id_in(Payment.order_id, order_ids), Payment.state == P.SUBMITTED.value))
    audit_from(session, new, actor=actor, action="payment.submitted", object_type="payment",
               params=_audit_params(params, ("amount", "voucher", "payer_kind", "payer_name")), now=now)


def pay_orders(session, payment_ids, *, params, actor, now) -> None:
    """Orders whose settled payments now cover their total are paid (set-based)."""
    orders = select(Payment.order_id).where(id_in(Payment.id, payment_ids))
    run(session, ORDER_WORKFLOW, "pay", orders, actor=actor, now=now)


def reopen_orders(session, payment_ids, *, params, actor, now) -> None:
    """A rejected voucher sends its order back to unpaid: a new voucher (or another method) may follow."""
    orders = select(Payment.order_id).where(id_in(Payment.id, payment_ids))
    run(session, ORDER_WORKFLOW, "voucher_rejected", orders, actor=actor, params={"reason": params["reason"]},
        now=now)


def lock_orders_of(model):
    """An allocation step that locks the orders of the rows (after the rows themselves, in id order)."""
    def allocate(session, ids, *, params, actor) -> Allocation:
        lock_ids(session, Order, select(model.order_id).where(id_in(model.id, ids)))
        return Allocation(granted=list(ids))
    return allocate


def voucher_still_reviewable(session, ids, *, params, actor) -> Allocation:
    """Lock the vouchers' orders, then keep only vouchers whose order still waits for them.

    An order paid meanwhile by a gateway (the organisation also scanned the QR code) is not paid twice:
    the voucher is refused here and finance rejects it.
    """
    lock_orders_of(Payment)(session, ids, params=params, actor=actor)
    rows = session.execute(select(Payment.id, Order.state).join(Order, Order.id == Payment.order_id)
                           .where(id_in(Payment.id, ids)).order_by(Payment.id))
    allocation = Allocation(granted=[])
    for payment_id, state in rows:
        if state == O.VOUCHER_SUBMITTED.value:
            allocation.granted.append(payment_id)
        else:
            allocation.refused[payment_id] = f"订单状态为「{O(state).zh}」，该凭证不能再核验，请驳回"
    return allocation


def no_invoice_after_lock(session, ids, *, params, actor) -> Allocation:
    """Lock the refunds' orders, then refuse refunds whose order has a valid invoice (seed: 须先完成退票再申请退款)."""
    lock_orders_of(Refund)(session, ids, params=params, actor=actor)
    blocked = set(session.scalars(select(Refund.id).where(id_in(Refund.id, ids), has_valid_invoice(Refund.order_id))))
    return Allocation(granted=[i for i in ids if i not in blocked], refused={i: INVOICE_FIRST for i in blocked})


def _audit_params(params: dict, keys) -> dict:
    return {k: str(params[k]) for k in keys if params.get(k) is not None}


# --------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------

# Half a cent of slack: SQLite keeps NUMERIC as binary floating point.
HALF_CENT = literal(Decimal("0.005"), Numeric(12, 3))
COVERED = Guard("已核验或已到账的金额不足订单金额", lambda m, p, a: settled_amount(m) + HALF_CENT >= m.total_amount)
AMOUNT_MATCHES = Guard("汇款金额与订单应付金额不符",
                       lambda m, p, a: func.abs(amount_due(m) - literal(p["amount"], Numeric(12, 2))) < HALF_CENT)
DEADLINE_PASSED = Guard("尚未过支付截止日", lambda m, p, a: deadline_passed(m, p["as_of"]))
VOUCHER_PARAMS = (
    Param("voucher", ("汇款凭证", "Transfer voucher"), kind="file"),
    Param("amount", ("汇款金额（元）", "Amount (CNY)"), kind="amount"),
    Param("payer_kind", ("汇款方", "Payer kind"), kind="choice", choices=PartyKind.labelled()),
    Param("payer_name", ("汇款单位/个人", "Payer"), max_length=200),
    Param("payer_bank", ("支行名称", "Bank branch"), required=False, max_length=100),
    Param("payer_account", ("汇款账号", "Payer's account"), required=False, max_length=40),
    Param("payer_phone", ("联系电话", "Phone"), required=False, max_length=30),
    Param("reference", ("汇款流水号", "Bank reference"), required=False, max_length=100),
)


def _latest_settled_method(m):
    return (select(Payment.method).where(Payment.order_id == m.id, Payment.state.in_(SETTLED_STATES))
            .order_by(Payment.id.desc()).limit(1).scalar_subquery())


ORDER_TRANSITIONS = (
    Transition("submit_voucher", ("上传汇款凭证", "Submit transfer voucher"), frozenset({O.UNPAID}),
               O.VOUCHER_SUBMITTED, REQUESTERS, "order.voucher_submitted", params=VOUCHER_PARAMS,
               guards=(AMOUNT_MATCHES,), sets=lambda m, p, *, actor, now: {"payment_method": PaymentMethod.TRANSFER.value},
               after=insert_voucher_payments),
    Transition("voucher_rejected", ("凭证驳回", "Voucher rejected"), frozenset({O.VOUCHER_SUBMITTED}), O.UNPAID,
               FINANCE, "order.voucher_rejected", params=(REASON,)),
    Transition("pay", ("确认已支付", "Paid"), frozenset({O.UNPAID, O.VOUCHER_SUBMITTED}), O.PAID, FINANCE,
               "order.paid", guards=(COVERED,), after=persons_paid,
               sets=lambda m, p, *, actor, now: {"paid_at": now, "payment_method": _latest_settled_method(m)}),
    Transition("cancel", ("取消订单", "Cancel order"), frozenset({O.UNPAID}), O.CANCELLED, ADMINS, "order.cancelled",
               params=(Param("reason", ("取消原因", "Reason"), required=False),), after=close_lines, danger=True,
               confirmation="取消后订单内人员回到待支付，可重新生成订单。确定继续吗？"),
    Transition("expire", ("订单过期", "Expire"), frozenset({O.UNPAID}), O.EXPIRED, EXPIRERS, "order.expired",
               params=(Param("as_of", ("截至日期", "As of"), kind="date"),), guards=(DEADLINE_PASSED,),
               after=close_lines),
)
ORDER_WORKFLOW = Workflow(Order, "order", OrderState, ORDER_TRANSITIONS, name_column="number")


# --------------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------------

def _reviewed(m, p, *, actor, now, note=None):
    return {"verified_by_id": actor.id, "verified_at": now, **({"review_note": note} if note else {})}


PAYMENT_TRANSITIONS = (
    Transition("verify", ("核验通过", "Verify"), frozenset({P.SUBMITTED}), P.VERIFIED, FINANCE, "payment.verified",
               allocate=voucher_still_reviewable, after=pay_orders,
               sets=lambda m, p, *, actor, now: _reviewed(m, p, actor=actor, now=now)),
    Transition("reject", ("驳回凭证", "Reject voucher"), frozenset({P.SUBMITTED}), P.REJECTED, FINANCE,
               "payment.rejected", params=(Param("reason", ("驳回原因", "Reason")),),
               allocate=lock_orders_of(Payment), after=reopen_orders,
               sets=lambda m, p, *, actor, now: _reviewed(m, p, actor=actor, now=now, note=p["reason"])),
)
PAYMENT_WORKFLOW = Workflow(Payment, "payment", PaymentState, PAYMENT_TRANSITIONS, name_column="reference")


# --------------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------------

def _number_free(m, p, a):
    other = aliased(Invoice)
    return ~exists().where(other.number == p["number"], other.id != m.id)


PAPER_NEEDS_COURIER = Guard("纸质专用发票须填写快递公司和快递单号",
                            lambda m, p, a: or_(m.kind != InvoiceKind.PAPER_SPECIAL.value,
                                                true() if p.get("courier_number") and p.get("courier_company")
                                                else false()))
INVOICE_TRANSITIONS = (
    Transition("issue", ("开具发票", "Issue invoice"), frozenset({I.REQUESTED}), I.ISSUED, FINANCE, "invoice.issued",
               params=(Param("number", ("发票号码", "Invoice no."), max_length=40),
                       Param("courier_company", ("快递公司", "Courier"), required=False, max_length=50),
                       Param("courier_number", ("快递单号", "Courier no."), required=False, max_length=50)),
               guards=(Guard("发票号码已被使用", _number_free), PAPER_NEEDS_COURIER),
               sets=lambda m, p, *, actor, now: {"number": p["number"], "issued_at": now,
                                                 "courier_company": p.get("courier_company"),
                                                 "courier_number": p.get("courier_number")}),
    Transition("request_void", ("申请退票", "Request void"), frozenset({I.ISSUED}), I.VOID_REQUESTED, REQUESTERS,
               "invoice.void_requested", params=(Param("reason", ("退票原因", "Reason")),),
               sets=lambda m, p, *, actor, now: {"void_reason": p["reason"]}),
    Transition("void", ("作废发票（退票）", "Void invoice"), frozenset({I.REQUESTED, I.ISSUED, I.VOID_REQUESTED}),
               I.VOIDED, FINANCE, "invoice.voided", params=(Param("reason", ("退票原因", "Reason")),), danger=True,
               sets=lambda m, p, *, actor, now: {"void_reason": p["reason"], "voided_at": now}),
)
INVOICE_WORKFLOW = Workflow(Invoice, "invoice", InvoiceState, INVOICE_TRANSITIONS, name_column="title")


# --------------------------------------------------------------------------------------------------
# Refunds
# --------------------------------------------------------------------------------------------------

NO_VALID_INVOICE = Guard(INVOICE_FIRST, lambda m, p, a: ~has_valid_invoice(m.order_id))
REFUND_TRANSITIONS = (
    Transition("approve", ("批准退款", "Approve refund"), frozenset({R.REQUESTED}), R.APPROVED, FINANCE,
               "refund.approved", guards=(NO_VALID_INVOICE,), allocate=no_invoice_after_lock),
    Transition("reject", ("驳回退款", "Reject refund"), frozenset({R.REQUESTED, R.APPROVED}), R.REJECTED, FINANCE,
               "refund.rejected", params=(Param("reason", ("驳回原因", "Reason")),),
               sets=lambda m, p, *, actor, now: {"review_note": p["reason"]}),
    Transition("mark_refunded", ("标记已退款", "Mark refunded"), frozenset({R.APPROVED}), R.REFUNDED, FINANCE,
               "refund.refunded", params=(Param("batch", ("退款批次", "Batch"), required=False, max_length=40),),
               guards=(NO_VALID_INVOICE,), allocate=no_invoice_after_lock,
               sets=lambda m, p, *, actor, now: {"refunded_at": now, **({"batch": p["batch"]} if p.get("batch") else {})}),
)
REFUND_WORKFLOW = Workflow(Refund, "refund", RefundState, REFUND_TRANSITIONS, name_column="id")


# --------------------------------------------------------------------------------------------------
# The one person step that money makes
# --------------------------------------------------------------------------------------------------

# A person leaves pending_payment only when their order is paid: this step is fired by the order's
# `pay` transition, never by hand (persons have no "mark paid without money" transition).
PERSON_PAYMENT_WORKFLOW = Workflow(Person, "person", PersonState, (
    Transition("order_paid", ("订单已支付", "Order paid"), frozenset({PersonState.PENDING_PAYMENT}),
               PersonState.PENDING_REVIEW, FINANCE, "person.paid"),
))

FINANCE_WORKFLOWS = {w.object_type: w for w in (ORDER_WORKFLOW, PAYMENT_WORKFLOW, INVOICE_WORKFLOW, REFUND_WORKFLOW)}
