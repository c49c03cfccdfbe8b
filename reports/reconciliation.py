"""Finance reconciliation: payments, invoices and refunds per sub-delegation and payment method, with totals
that reconcile — settled payments less refunds paid out is the balance the delegation holds, as
models/finance/balances.py derives an order's balance — and the payments, invoices and refunds listed.

A refund or an invoice is filed under the method its order was paid by (the settled payment's method,
else the order's chosen method).
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.delegation import SubDelegation, User
from models.enums import InvoiceState, PaymentMethod, PaymentState, RefundState
from models.finance.balances import SETTLED_STATES
from models.finance.tables import Invoice, Order, OrderLine, Payment, Refund
from models.registration import Organization, Person
from models.scope import visible
from reports.common import Written, label, masked, seen, visible_sub_delegations, words
from reports.xlsx import DATETIME, INTEGER, MONEY, TEXT, Column, Sheet, open_workbook

ZERO = Decimal("0.00")
ACTIVE_REFUNDS = (RefundState.REQUESTED.value, RefundState.APPROVED.value)
FIGURES = ("settled_count", "settled", "submitted_count", "submitted", "refunded_count", "refunded",
           "refunding", "invoices", "invoiced", "voided")
MONEY_FIGURES = {"settled", "submitted", "refunded", "refunding", "invoiced", "voided"}
NO_METHOD = ("（未选择）", "(none chosen)")


def paid_method(order=Order):
    """The method an order was paid by: its settled payment's, else the one the order chose."""
    settled = (select(Payment.method).where(Payment.order_id == order.id, Payment.state.in_(SETTLED_STATES))
               .limit(1).scalar_subquery())
    return func.coalesce(settled, order.payment_method)


def _empty() -> dict:
    return {name: (ZERO if name in MONEY_FIGURES else 0) for name in FIGURES}


def _add(figures: dict, count_name: str | None, amount_name: str | None, n: int, amount) -> None:
    if count_name:
        figures[count_name] += n
    if amount_name:
        figures[amount_name] += Decimal(str(amount or 0)).quantize(Decimal("0.01"))


def reconciliation(session: Session, actor: User, sub_ids: list[int]) -> dict[tuple[int, str | None], dict]:
    """{(sub-delegation id, method): figures} for the orders in scope of these sub-delegations."""
    scope = (Order.sub_delegation_id.in_(sub_ids), visible(actor, Order))
    out: dict[tuple, dict] = defaultdict(_empty)
    payments = session.execute(
        select(Order.sub_delegation_id, Payment.method, Payment.state, func.count(), func.sum(Payment.amount))
        .join(Order, Order.id == Payment.order_id).where(*scope)
        .group_by(Order.sub_delegation_id, Payment.method, Payment.state))
    for sub_id, method, state, n, amount in payments:
        state = getattr(state, "value", state)
        if state in SETTLED_STATES:
            _add(out[(sub_id, _value(method))], "settled_count", "settled", n, amount)
        elif state == PaymentState.SUBMITTED.value:
            _add(out[(sub_id, _value(method))], "submitted_count", "submitted", n, amount)
    method = paid_method().label("method")
    refunds = session.execute(
        select(Order.sub_delegation_id, method, Refund.state, func.count(), func.sum(Refund.amount))
        .join(Order, Order.id == Refund.order_id).where(*scope)
        .group_by(Order.sub_delegation_id, method, Refund.state))
    for sub_id, paid_by, state, n, amount in refunds:
        state = getattr(state, "value", state)
        if state == RefundState.REFUNDED.value:
            _add(out[(sub_id, _value(paid_by))], "refunded_count", "refunded", n, amount)
        elif state in ACTIVE_REFUNDS:
            _add(out[(sub_id, _value(paid_by))], None, "refunding", n, amount)
    invoices = session.execute(
        select(Order.sub_delegation_id, method, Invoice.state, func.count(), func.sum(Invoice.amount))
        .join(Order, Order.id == Invoice.order_id).where(*scope)
        .group_by(Order.sub_delegation_id, method, Invoice.state))
    for sub_id, paid_by, state, n, amount in invoices:
        if getattr(state, "value", state) == InvoiceState.VOIDED.value:
            _add(out[(sub_id, _value(paid_by))], None, "voided", n, amount)
        else:
            _add(out[(sub_id, _value(paid_by))], "invoices", "invoiced", n, amount)
    for figures in out.values():
        figures["balance"] = figures["settled"] - figures["refunded"]
    return dict(out)


def _value(member):
    return getattr(member, "value", member)


def total(groups) -> dict:
    """The sum of every figure, the balance too (so it equals settled − refunded of the sums)."""
    out = _empty()
    out["balance"] = ZERO
    for figures in groups:
        for name, value in figures.items():
            out[name] += value
    return out


# --------------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------------

FIGURE_COLUMNS = (
    Column(("已到账笔数", "Settled payments"), INTEGER),
    Column(("已到账金额（元）", "Settled (CNY)"), MONEY),
    Column(("待核验凭证笔数", "Vouchers to verify"), INTEGER),
    Column(("待核验金额（元）", "To verify (CNY)"), MONEY),
    Column(("已退款笔数", "Refunds paid"), INTEGER),
    Column(("已退款金额（元）", "Refunded (CNY)"), MONEY),
    Column(("退款处理中（元）", "Refunds in progress (CNY)"), MONEY),
    Column(("余额（元）＝已到账－已退款", "Balance (CNY) = settled − refunded"), MONEY, 22),
    Column(("有效发票张数", "Valid invoices"), INTEGER),
    Column(("有效发票金额（元）", "Invoiced (CNY)"), MONEY),
    Column(("已退票金额（元）", "Voided invoices (CNY)"), MONEY),
)
FIGURE_ORDER = ("settled_count", "settled", "submitted_count", "submitted", "refunded_count", "refunded",
                "refunding", "balance", "invoices", "invoiced", "voided")
SUB = Column(("交易分团", "Sub-delegation"), TEXT, 22)
METHOD = Column(("支付方式", "Method"), TEXT, 18)
TOTAL = ("合计", "Total")


def method_name(value: str | None, lang: str) -> str:
    return label(PaymentMethod(value), lang) if value else words(NO_METHOD, lang)


def write_finance(session: Session, target, *, actor: User, lang: str = "zh", codes=None) -> Written:
    """The reconciliation workbook at `target`: per sub-delegation and method, per method, and the rows."""
    subs = visible_sub_delegations(session, actor, codes)
    sub_ids = [s.id for s in subs]
    groups = reconciliation(session, actor, sub_ids) if sub_ids else {}
    method_order = {m.value: i for i, m in enumerate(PaymentMethod)}
    written = Written()
    workbook = open_workbook(target)
    try:
        title = words(("对账汇总", "Reconciliation"), lang)
        sheet = Sheet(workbook, title, (SUB, METHOD) + FIGURE_COLUMNS, lang)
        for sub in subs:
            for method in sorted((m for s, m in groups if s == sub.id), key=lambda m: method_order.get(m, 99)):
                sheet.append([sub.name, method_name(method, lang)] + _figures(groups[(sub.id, method)]))
        sheet.append([words(TOTAL, lang), None] + _figures(total(groups.values())), bold=True)
        sheet.close()
        written.sheets[title] = sheet.rows - 1

        by_method = defaultdict(list)
        for (_, method), figures in groups.items():
            by_method[method].append(figures)
        title = words(("按支付方式", "By method"), lang)
        sheet = Sheet(workbook, title, (METHOD,) + FIGURE_COLUMNS, lang)
        for method in sorted(by_method, key=lambda m: method_order.get(m, 99)):
            sheet.append([method_name(method, lang)] + _figures(total(by_method[method])))
        sheet.append([words(TOTAL, lang)] + _figures(total(groups.values())), bold=True)
        sheet.close()
        written.sheets[title] = sheet.rows - 1

        for name, writer in ((("支付记录", "Payments"), _payments), (("发票", "Invoices"), _invoices),
                             (("退款", "Refunds"), _refunds)):
            title = words(name, lang)
            written.sheets[title] = writer(session, workbook, title, actor, sub_ids, lang)
    finally:
        workbook.close()
    return written


def _figures(figures: dict) -> list:
    return [figures[name] for name in FIGURE_ORDER]


def _names(session: Session, sub_ids) -> dict[int, str]:
    query = select(SubDelegation.id, SubDelegation.name).where(SubDelegation.id.in_(sub_ids))
    return dict(session.execute(query).all())


def _payments(session, workbook, title, actor, sub_ids, lang) -> int:
    kinds = masked(actor, Payment)
    columns = (SUB, Column(("订单号", "Order no."), TEXT, 22), Column(("单位名称", "Organisation"), TEXT, 30),
               METHOD, Column(("金额（元）", "Amount (CNY)"), MONEY), Column(("交易流水号", "Reference"), TEXT, 22),
               Column(("支付时间", "Paid at"), DATETIME), Column(("状态", "State"), TEXT),
               Column(("汇款单位/个人", "Payer"), TEXT, 24), Column(("汇款账号", "Payer's account"), TEXT, 22),
               Column(("审核时间", "Reviewed at"), DATETIME))
    names = _names(session, sub_ids)
    sheet = Sheet(workbook, title, columns, lang)
    query = (select(Order.sub_delegation_id, Order.number, Organization.name, Payment.method, Payment.amount,
                    Payment.reference, Payment.paid_at, Payment.state, Payment.payer_name, Payment.payer_account,
                    Payment.verified_at)
             .join(Order, Order.id == Payment.order_id).join(Organization, Organization.id == Order.organization_id)
             .where(Order.sub_delegation_id.in_(sub_ids), visible(actor, Order))
             .order_by(Order.sub_delegation_id, Payment.id).execution_options(yield_per=2000))
    for (sub_id, number, org, method, amount, reference, paid_at, state, payer, account,
         verified) in session.execute(query):
        sheet.append([names.get(sub_id), number, org, label(method, lang), amount, reference, paid_at,
                      label(state, lang), payer, seen(account, kinds.get("payer_account")), verified])
    sheet.close()
    return sheet.rows


def _invoices(session, workbook, title, actor, sub_ids, lang) -> int:
    columns = (SUB, Column(("订单号", "Order no."), TEXT, 22), METHOD, Column(("发票类型", "Kind"), TEXT, 18),
               Column(("发票抬头", "Title"), TEXT, 30), Column(("金额（元）", "Amount (CNY)"), MONEY),
               Column(("发票号码", "Invoice no."), TEXT, 16), Column(("状态", "State"), TEXT),
               Column(("开票时间", "Issued at"), DATETIME), Column(("退票时间", "Voided at"), DATETIME))
    names = _names(session, sub_ids)
    sheet = Sheet(workbook, title, columns, lang)
    query = (select(Order.sub_delegation_id, Order.number, paid_method(), Invoice.kind, Invoice.title,
                    Invoice.amount, Invoice.number, Invoice.state, Invoice.issued_at, Invoice.voided_at)
             .join(Order, Order.id == Invoice.order_id)
             .where(Order.sub_delegation_id.in_(sub_ids), visible(actor, Order))
             .order_by(Order.sub_delegation_id, Invoice.id).execution_options(yield_per=2000))
    for sub_id, order, method, kind, invoice_title, amount, number, state, issued, voided in session.execute(query):
        sheet.append([names.get(sub_id), order, method_name(_value(method), lang), label(kind, lang), invoice_title,
                      amount, number, label(state, lang), issued, voided])
    sheet.close()
    return sheet.rows


def _refunds(session, workbook, title, actor, sub_ids, lang) -> int:
    columns = (SUB, Column(("退款编号", "Refund no."), INTEGER), Column(("订单号", "Order no."), TEXT, 22), METHOD,
               Column(("参观人员", "Person"), TEXT, 12), Column(("退款金额（元）", "Amount (CNY)"), MONEY),
               Column(("退款方式", "Refund method"), TEXT, 14), Column(("状态", "State"), TEXT),
               Column(("退款批次", "Batch"), TEXT, 22), Column(("退款时间", "Refunded at"), DATETIME))
    names = _names(session, sub_ids)
    sheet = Sheet(workbook, title, columns, lang)
    query = (select(Order.sub_delegation_id, Refund.id, Order.number, paid_method(), Person.name, Refund.amount,
                    Refund.method, Refund.state, Refund.batch, Refund.refunded_at)
             .join(Order, Order.id == Refund.order_id).join(OrderLine, OrderLine.id == Refund.order_line_id)
             .join(Person, Person.id == OrderLine.person_id)
             .where(Order.sub_delegation_id.in_(sub_ids), visible(actor, Order))
             .order_by(Order.sub_delegation_id, Refund.id).execution_options(yield_per=2000))
    for (sub_id, refund_id, order, method, person, amount, refund_method, state, batch,
         refunded) in session.execute(query):
        sheet.append([names.get(sub_id), refund_id, order, method_name(_value(method), lang), person, amount,
                      label(refund_method, lang), label(state, lang), batch, refunded])
    sheet.close()
    return sheet.rows
