"""Money coming in: gateway payments recorded once per reference, and the checks before a transfer voucher.

Seed 002: 扫码支付（支付宝、微信、银联）和 B2B网上支付 are confirmed by the gateway (自动确认及时更新订单付款状态);
转账支付 needs 汇款信息 and 汇款凭证, then 财务审核后确认.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import files
from models.delegation.tables import ExpoEdition, User
from models.enums import OrderState, PartyKind, PaymentMethod, PaymentState
from models.errors import GuardFailed, InvalidParameter, NotFound
from models.finance.balances import order_money
from models.finance.common import is_postgresql
from models.finance.fees import GATEWAY_METHODS
from models.finance.ordering import local_time
from models.finance.tables import Order, Payment
from models.registration.tables import Organization
from models.scope import visible

PAYABLE = (OrderState.UNPAID.value, OrderState.VOUCHER_SUBMITTED.value)


@dataclass(frozen=True)
class GatewayOutcome:
    """What became of a gateway notification: the payment (new or recorded before), or why none was recorded."""

    ok: bool
    order_number: str
    method: str
    reference: str
    amount: str | None = None
    payment_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def mismatch(due: Decimal, amount: Decimal, what: str) -> str | None:
    """The refusal for an amount that is not what the order asks, with the difference; None when it matches."""
    due, amount = due.quantize(Decimal("0.01")), amount.quantize(Decimal("0.01"))
    if due == amount:
        return None
    return f"{what}与订单不符：订单应付 {due:.2f} 元，{what} {amount:.2f} 元，相差 {abs(due - amount):.2f} 元"


def gateway_method(method) -> PaymentMethod:
    """The gateway method named, or InvalidParameter (a transfer is never recorded by a gateway)."""
    try:
        method = PaymentMethod(method)
    except ValueError:
        method = None
    if method not in GATEWAY_METHODS:
        raise InvalidParameter(f"「支付方式」须为扫码支付或B2B网关支付：{method}", field="method")
    return method


def _lock_order(session: Session, order_number: str):
    """The order with this number, locked (PostgreSQL) so one notification at a time decides on it."""
    query = select(Order).where(Order.number == order_number)
    if is_postgresql(session):
        query = query.with_for_update()
    return session.scalars(query).first()


def find_recorded(session: Session, method: PaymentMethod, reference: str) -> Payment | None:
    return session.scalars(select(Payment).where(Payment.method == method.value, Payment.reference == reference)).first()


def decide_gateway(session: Session, order_number: str, method: PaymentMethod, amount: Decimal,
                   reference: str) -> tuple[Order | None, GatewayOutcome | None]:
    """Lock the order and decide: (order, None) to record, or (None, outcome) when recorded before or refused."""
    outcome = dict(order_number=order_number, method=method.value, reference=reference)
    order = _lock_order(session, order_number)
    existing = find_recorded(session, method, reference)
    if existing is not None:
        if order is None or existing.order_id != order.id:
            return None, GatewayOutcome(ok=False, reason="该交易流水号已用于其他订单", **outcome)
        return None, GatewayOutcome(ok=True, amount=f"{existing.amount:.2f}", payment_id=existing.id, **outcome)
    if order is None:
        return None, GatewayOutcome(ok=False, reason="订单不存在", **outcome)
    if order.state not in PAYABLE:
        return None, GatewayOutcome(ok=False, reason=f"订单状态为「{OrderState(order.state).zh}」，不能再收款", **outcome)
    due = order_money(session, [order.id])[order.id]
    reason = mismatch(due["total"] - due["settled"], amount, "支付金额")
    if reason:
        return None, GatewayOutcome(ok=False, reason=reason, **outcome)
    return order, None


def new_gateway_payment(session: Session, order: Order, method: PaymentMethod, amount: Decimal, reference: str,
                        paid_at: datetime, payer_name: str | None) -> Payment:
    """The recorded payment; a B2B payer is an organisation (公对公), by default the order's own."""
    if method is PaymentMethod.B2B and not payer_name:
        payer_name = session.scalar(select(Organization.name).where(Organization.id == order.organization_id))
    return Payment(order_id=order.id, method=method, amount=amount, reference=reference, paid_at=paid_at,
                   state=PaymentState.RECORDED, payer_name=payer_name,
                   payer_kind=PartyKind.ORGANIZATION if method is PaymentMethod.B2B else None)


def check_voucher(session: Session, order_id: int, *, actor: User, voucher: str, amount, now: datetime) -> None:
    """Before a voucher is submitted: a stored voucher file, in time for transfers, the amount the order asks."""
    if not (files.is_stored_name(voucher) and voucher.startswith("voucher/")):
        raise InvalidParameter("请上传汇款凭证（jpg、png 图片或 pdf 文件，不超过 2 MB）", field="voucher")
    row = session.execute(select(Order.id, ExpoEdition.transfer_deadline).join(ExpoEdition, ExpoEdition.id == Order.edition_id)
                          .where(Order.id == order_id, visible(actor, Order))).first()
    if row is None:
        raise NotFound("订单不存在或不在您的权限范围内")
    today: date = local_time(now).date()
    if row.transfer_deadline is not None and today > row.transfer_deadline:
        raise GuardFailed(f"已过转账支付截止日（{row.transfer_deadline:%Y-%m-%d}），请改用扫码或B2B支付")
    money = order_money(session, [order_id])[order_id]
    try:
        amount = Decimal(str(amount))
    except ArithmeticError:
        raise InvalidParameter(f"「汇款金额」的取值无效：{amount}", field="amount") from None
    reason = mismatch(money["total"] - money["settled"], amount, "汇款金额") if amount.is_finite() else "汇款金额无效"
    if reason:
        raise InvalidParameter(reason, field="amount")

