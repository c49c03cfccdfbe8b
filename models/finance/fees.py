"""The one badge fee and the payment deadlines, as SQL: orders, co-payment and reports all ask here.

The edition holds the fee per label (VIP and staff are free), the reuse percentage and one deadline per
payment method (seed 001: 转账支付 by 12 Oct, 扫码/B2B by 15 Oct).
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Numeric, and_, case, cast, exists, func, literal, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement

from models.delegation.tables import ExpoEdition
from models.enums import Label, PaymentMethod
from models.registration.tables import Person

QR_METHODS = (PaymentMethod.QR_ALIPAY, PaymentMethod.QR_WECHAT, PaymentMethod.QR_UNIONPAY)
GATEWAY_METHODS = QR_METHODS + (PaymentMethod.B2B,)
CENT = Decimal("0.01")


def fee_expression(person=Person) -> ColumnElement:
    """The badge fee of a person's current label, as SQL: free labels 0, reuse at the edition's percentage.

    `person` is the Person class or an alias of it; the edition is read by correlated subqueries, so the
    expression fits a SELECT list, an UPDATE's SET and an INSERT ... SELECT alike.
    """
    fee = select(ExpoEdition.fee_per_label).where(ExpoEdition.id == person.edition_id).scalar_subquery()
    percent = select(ExpoEdition.reuse_fee_percent).where(ExpoEdition.id == person.edition_id).scalar_subquery()
    return case(
        (person.label != Label.PROFESSIONAL.value, literal(0, Numeric(10, 2))),
        (person.is_reuse, func.round(cast(fee * percent, Numeric(14, 4)) / literal_column("100.0"), 2)),
        else_=fee,
    )


def fee_of(fee_per_label: Decimal, reuse_fee_percent: int, label: Label | str, is_reuse: bool) -> Decimal:
    """The same fee in Python (forms and reports that show one person): must agree with fee_expression."""
    if Label(label) is not Label.PROFESSIONAL:
        return Decimal("0.00")
    fee = Decimal(str(fee_per_label))
    if is_reuse:
        fee = fee * Decimal(reuse_fee_percent) / 100
    return fee.quantize(CENT, rounding=ROUND_HALF_UP)


def deadline_passed(order, as_of: date) -> ColumnElement[bool]:
    """SQL: the order's payment deadline lies before `as_of` (the deadline day itself still counts).

    The deadline is the chosen method's; an order whose method is not chosen yet may still be paid by any
    method, so it waits for the latest deadline. A method without a deadline never expires an order.
    """
    method = order.payment_method
    passed = {name: getattr(ExpoEdition, name) < as_of for name in ("transfer_deadline", "qr_deadline", "b2b_deadline")}
    return exists().where(ExpoEdition.id == order.edition_id, or_(
        and_(method == PaymentMethod.TRANSFER.value, passed["transfer_deadline"]),
        and_(method.in_([m.value for m in QR_METHODS]), passed["qr_deadline"]),
        and_(method == PaymentMethod.B2B.value, passed["b2b_deadline"]),
        and_(method.is_(None), *passed.values()),
    ))
