"""An order's money, derived from its rows and never stored: settled payments less refunds paid out."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Numeric, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models.enums import InvoiceState, PaymentState, RefundState
from models.finance.tables import Invoice, Order, Payment, Refund
from models.ids import id_in

SETTLED_STATES = (PaymentState.VERIFIED.value, PaymentState.RECORDED.value)
ACTIVE_REFUND_STATES = (RefundState.REQUESTED.value, RefundState.APPROVED.value)


def _sum(column, *where) -> ColumnElement:
    return func.coalesce(select(func.sum(column)).where(*where).scalar_subquery(), 0).cast(Numeric(12, 2))


def settled_amount(order=Order) -> ColumnElement:
    """Verified transfers and recorded gateway payments of the order, as SQL."""
    return _sum(Payment.amount, Payment.order_id == order.id, Payment.state.in_(SETTLED_STATES))


def refunded_amount(order=Order) -> ColumnElement:
    """Refunds paid out for the order's lines, as SQL."""
    return _sum(Refund.amount, Refund.order_id == order.id, Refund.state == RefundState.REFUNDED.value)


def balance(order=Order) -> ColumnElement:
    """What the delegation holds for the order: settled payments less refunds paid out."""
    return settled_amount(order) - refunded_amount(order)


def amount_due(order=Order) -> ColumnElement:
    """What the order still asks for: its total less settled payments."""
    return order.total_amount - settled_amount(order)


def has_valid_invoice(order_id_column) -> ColumnElement[bool]:
    """SQL: the order has an invoice that is not voided (requested, issued or awaiting its void)."""
    return exists().where(Invoice.order_id == order_id_column, Invoice.state != InvoiceState.VOIDED.value)


def has_active_refund(order_id_column) -> ColumnElement[bool]:
    """SQL: a refund of the order is requested or approved (in progress)."""
    return exists().where(Refund.order_id == order_id_column, Refund.state.in_(ACTIVE_REFUND_STATES))


def order_money(session: Session, order_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """{order id: {total, settled, refunded, balance}} for these orders, in one statement."""
    rows = session.execute(select(Order.id, Order.total_amount, settled_amount(), refunded_amount())
                           .where(id_in(Order.id, order_ids)))
    out = {}
    for order_id, total, settled, refunded in rows:
        settled, refunded = Decimal(str(settled)), Decimal(str(refunded))
        out[order_id] = {"total": Decimal(str(total)), "settled": settled, "refunded": refunded,
                         "balance": settled - refunded}
    return out
