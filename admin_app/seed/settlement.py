"""After payment in the demo history: invoices asked for, issued and voided, and refunds for persons who will
not come (cancelled, or failed the background review) requested, approved and paid out in batches.

Only the finance operations write. Organisations ask through their sub-delegation's admin (invoices, voids,
refunds); finance issues, voids and refunds. As the seeds have it, an invoiced order is voided (退票) before
its refund, and a voided invoice may be asked for anew.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from models import (Invoice, InvoiceKind, InvoiceState, Order, OrderLine, OrderState, Organization, PaymentMethod,
                    Person, PersonState, Refund, RefundMethod, RefundState)
from admin_app.seed.money import bank_account
from models.errors import DomainError
from models.finance import operations as fin
from models.finance.balances import SETTLED_STATES, balance, has_active_refund, has_valid_invoice
from models.finance.tables import Payment
from models.ids import id_in

INVOICE_SHARE = 0.35  # of the paid orders without an invoice, those whose organisation asks for one in a week
SPECIAL_SHARE = 0.2  # paper special invoices among them (domestic organisations with full bank details)
ISSUE = 0.7  # of the requested invoices, those finance issues in a week
WRONG_TITLE = 0.04  # issued invoices sent back to be issued anew
BANK_REFUND = 0.7  # refunds of transfers paid back to a bank account rather than by the original route
PAY_OUT, APPROVE = 0.7, 0.6  # approved refunds paid out in the weekly batch; requested refunds approved
INVOICE_BANKS = ("中国工商银行广州分行营业部", "中国银行深圳分行", "中国建设银行佛山分行", "招商银行广州天河支行")
REFUND_BANKS = (("中国工商银行广州分行营业部", "102581000013"), ("中国银行深圳分行", "104584000003"),
                ("中国建设银行佛山分行", "105588000015"), ("招商银行广州天河支行", "308581002079"))
RELEASED = (PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value)
REFUND_REASONS = {PersonState.CANCELLED.value: "人员已注销，申请退还证件费",
                  PersonState.REVIEW_FAILED.value: "人员审核不通过，申请退还证件费"}
VOID_FOR_REFUND = "人员注销或审核不通过，申请退票后办理退款"
VOID_WRONG_TITLE = "发票抬头有误，申请退票重开"


def _paid_by(order=Order):
    """The method of the order's settling payment, as SQL."""
    return (select(Payment.method).where(Payment.order_id == order.id, Payment.state.in_(SETTLED_STATES))
            .order_by(Payment.id.desc()).limit(1).scalar_subquery())


def refundable_lines(history) -> list:
    """This run's paid lines of persons who will not come and have no refund yet, with their order's invoice."""
    if not history.orgs:
        return []
    refunded = exists().where(Refund.order_line_id == OrderLine.id, Refund.state != RefundState.REJECTED.value)
    return history.session.execute(
        select(OrderLine.id, OrderLine.order_id, Order.sub_delegation_id, Person.state.label("person_state"),
               Organization.name.label("org_name"), _paid_by().label("paid_by"),
               has_valid_invoice(Order.id).label("invoiced"))
        .join(Order, Order.id == OrderLine.order_id).join(Person, Person.id == OrderLine.person_id)
        .join(Organization, Organization.id == Order.organization_id)
        .where(id_in(Order.organization_id, history.orgs), Order.state == OrderState.PAID.value,
               Person.state.in_(RELEASED), OrderLine.fee > 0, ~refunded)
        .order_by(OrderLine.id)).all()


def invoices_of(history, state: InvoiceState) -> list:
    """This run's invoices in a state, oldest first: id, kind, order, sub-delegation, void reason."""
    if not history.orgs:
        return []
    return history.session.execute(
        select(Invoice.id, Invoice.kind, Invoice.order_id, Order.sub_delegation_id, Invoice.void_reason)
        .join(Order, Order.id == Invoice.order_id)
        .where(id_in(Order.organization_id, history.orgs), Invoice.state == state.value).order_by(Invoice.id)).all()


def refunds_of(history, state: RefundState) -> list[int]:
    """This run's refunds in a state, oldest first."""
    if not history.orgs:
        return []
    return list(history.session.scalars(
        select(Refund.id).join(Order, Order.id == Refund.order_id)
        .where(id_in(Order.organization_id, history.orgs), Refund.state == state.value).order_by(Refund.id)))


def invoiceable_orders(history) -> list:
    """This run's paid orders of domestic organisations (a tax number) with nothing to stop an invoice."""
    if not history.orgs:
        return []
    return history.session.execute(
        select(Order.id, Order.sub_delegation_id, Organization.name, Organization.uscc, Organization.address,
               Organization.contact_mobile, Organization.contact_email)
        .join(Organization, Organization.id == Order.organization_id)
        .where(id_in(Order.organization_id, history.orgs), Order.state == OrderState.PAID.value,
               Organization.uscc.is_not(None), ~has_valid_invoice(Order.id), ~has_active_refund(Order.id),
               balance() > 0)
        .order_by(Order.id)).all()


# -- the organisations ask (Wednesday) ---------------------------------------------------------------


def organisations_ask(history, week: int, now: datetime) -> None:
    """Voids before refunds, refunds for persons who will not come, invoices for paid orders."""
    lines = refundable_lines(history)
    ask_voids(history, lines, now)
    ask_refunds(history, [line for line in lines if not line.invoiced], now + timedelta(minutes=30))
    ask_invoices(history, now + timedelta(hours=1))


def ask_voids(history, lines, now: datetime) -> None:
    """Issued invoices of orders that need a refund go back (退票), and now and then one with a wrong title."""
    needing_refund = {line.order_id for line in lines}
    reasons = defaultdict(list)
    for invoice in invoices_of(history, InvoiceState.ISSUED):
        if invoice.order_id in needing_refund:
            reasons[(invoice.sub_delegation_id, VOID_FOR_REFUND)].append(invoice.id)
        elif history.rng.random() < WRONG_TITLE:
            reasons[(invoice.sub_delegation_id, VOID_WRONG_TITLE)].append(invoice.id)
    for (sub_id, reason), ids in sorted(reasons.items()):
        history.act(fin.request_invoice_voids, ids, history.actors.admins[sub_id], now, reason=reason)


def ask_refunds(history, lines, now: datetime) -> None:
    """Each admin asks for its refunds: by the original route in one batch, or to the organisation's bank account."""
    original, by_order = defaultdict(list), defaultdict(list)
    bank_orders = {line.order_id for line in lines if line.paid_by == PaymentMethod.TRANSFER.value
                   and history.rng.random() < BANK_REFUND}
    for line in lines:
        if line.order_id in bank_orders:
            by_order[(line.sub_delegation_id, line.order_id, line.org_name, line.person_state)].append(line.id)
        else:
            original[(line.sub_delegation_id, line.person_state)].append(line.id)
    for (sub_id, person_state), ids in sorted(original.items()):
        history.act(fin.request_refund, ids, history.actors.admins[sub_id], now,
                    method=RefundMethod.ORIGINAL_ROUTE.value, reason=REFUND_REASONS[person_state])
    for (sub_id, _, org_name, person_state), ids in sorted(by_order.items()):
        bank, code = history.rng.choice(REFUND_BANKS)
        history.act(fin.request_refund, ids, history.actors.admins[sub_id], now + timedelta(minutes=5),
                    method=RefundMethod.BANK_ACCOUNT.value, payee_name=org_name, bank_account=bank_account(history),
                    bank_name=bank, bank_code=code, reason=REFUND_REASONS[person_state])


def ask_invoices(history, now: datetime) -> None:
    """Some organisations ask for the invoice of a paid order: mostly electronic, some paper special ones."""
    for i, order in enumerate(history.some(invoiceable_orders(history), INVOICE_SHARE)):
        special = history.rng.random() < SPECIAL_SHARE and bool(order.address)
        details = dict(address=order.address, phone=order.contact_mobile, bank_name=history.rng.choice(INVOICE_BANKS),
                       bank_account=bank_account(history)) if special else {}
        try:
            fin.request_invoice(history.session, order.id, actor=history.actors.admins[order.sub_delegation_id],
                                kind=(InvoiceKind.PAPER_SPECIAL if special else InvoiceKind.ELECTRONIC_NORMAL).value,
                                title=order.name, tax_number=order.uscc, mobile=order.contact_mobile,
                                email=order.contact_email, now=now + timedelta(minutes=i % 60), **details)
        except DomainError:
            history.tally("request_invoice", False)  # the domain said no; the order stays without an invoice
        else:
            history.tally("request_invoice", True)


# -- finance settles (Tuesday) -----------------------------------------------------------------------


def finance_settles(history, week: int, now: datetime) -> None:
    """Finance voids what is to be voided, issues invoices, pays out approved refunds and approves new ones."""
    void_invoices(history, now)
    issue_invoices(history, now + timedelta(minutes=20))
    finance = history.actors.finance
    history.act(fin.batch_refund, history.some(refunds_of(history, RefundState.APPROVED), PAY_OUT), finance,
                now + timedelta(minutes=50))
    history.act(fin.approve_refunds, history.some(refunds_of(history, RefundState.REQUESTED), APPROVE), finance,
                now + timedelta(minutes=55))


def void_invoices(history, now: datetime) -> None:
    """Voids asked for are done with their reason; requested invoices of orders now needing a refund are voided too."""
    reasons = defaultdict(list)
    for invoice in invoices_of(history, InvoiceState.VOID_REQUESTED):
        reasons[invoice.void_reason or VOID_FOR_REFUND].append(invoice.id)
    needing_refund = {line.order_id for line in refundable_lines(history)}
    for invoice in invoices_of(history, InvoiceState.REQUESTED):
        if invoice.order_id in needing_refund:
            reasons["人员注销或审核不通过，发票作废后办理退款"].append(invoice.id)
    for reason, ids in sorted(reasons.items()):
        history.act(fin.void_invoices, ids, history.actors.finance, now, reason=reason)


def issue_invoices(history, now: datetime) -> None:
    """Finance issues requested invoices one by one (each its own number); paper ones go by courier."""
    for i, invoice in enumerate(history.some(invoices_of(history, InvoiceState.REQUESTED), ISSUE)):
        paper = invoice.kind == InvoiceKind.PAPER_SPECIAL
        courier = dict(courier_company="顺丰速运", courier_number=f"SF{history.rng.randrange(10**12):012d}") \
            if paper else {}
        history.act(fin.issue_invoices, [invoice.id], history.actors.finance, now + timedelta(minutes=i % 30),
                    number=invoice_number(invoice.id), **courier)


def invoice_number(invoice_id: int) -> str:
    """A 20-digit invoice number (全电发票号码), unique as the invoice's id is."""
    return f"25442000{invoice_id:012d}"
