"""Money in the demo history, made only by the finance operations: orders for the persons waiting to pay,
and the gateway payments (QR, B2B) that settle them as the gateway's notifications come in.

Each step is a function of (history, week, now), like the History's own steps, and acts as the user whose
job it is: a sub-delegation's admin puts its persons on orders, finance's gateway account records payments.
Whether a change happens stays the domain's decision; refused rows stay where they are.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from models import Order, OrderLine, OrderState, PaymentMethod, PersonState
from models.finance import operations as fin
from models.finance.ordering import local_time
from models.ids import id_in

P = PersonState
# How organisations pay online (seed 002: 扫码支付 支付宝/微信/银联, B2B网上支付), by weight.
GATEWAYS = {PaymentMethod.QR_ALIPAY: 40, PaymentMethod.QR_WECHAT: 35, PaymentMethod.QR_UNIONPAY: 10,
            PaymentMethod.B2B: 15}
REFERENCE_PREFIX = {PaymentMethod.QR_ALIPAY: "ALI", PaymentMethod.QR_WECHAT: "WX", PaymentMethod.QR_UNIONPAY: "UP",
                    PaymentMethod.B2B: "B2B"}
PAY_SHARE = 0.6  # of the unpaid orders, those their organisation pays in a given week
PAYING_HOURS = 4  # notifications arrive over the hours after the step's moment


def on_open_orders(history) -> set[int]:
    """This run's persons already on an open order (unpaid, awaiting voucher review or paid)."""
    if not history.persons:
        return set()
    return set(history.session.scalars(select(OrderLine.person_id).where(
        id_in(OrderLine.person_id, history.persons), OrderLine.is_open)))


def orders_of(history, *states: OrderState) -> list:
    """This run's orders in these states, oldest first: id, number, total, sub-delegation."""
    if not history.orgs:
        return []
    return history.session.execute(
        select(Order.id, Order.number, Order.total_amount, Order.sub_delegation_id)
        .where(id_in(Order.organization_id, history.orgs), Order.state.in_([s.value for s in states]))
        .order_by(Order.id)).all()


def moments(history, now: datetime, n: int) -> list[datetime]:
    """n moments in the PAYING_HOURS after `now`, in time order."""
    return sorted(now + timedelta(minutes=history.rng.randrange(PAYING_HOURS * 60)) for _ in range(n))


def put_on_orders(history, week: int, now: datetime) -> None:
    """Each sub-delegation's admin puts persons waiting to pay (and on no open order) on orders."""
    taken = on_open_orders(history)
    waiting = [p for p in history.person_rows(P.PENDING_PAYMENT) if p.id not in taken]
    history.each_admin(fin.create_orders, history.some(waiting, 0.9), now)


def organisations_pay(history, week: int, now: datetime) -> None:
    """Organisations pay some unpaid orders online; finance's gateway account records each notification."""
    paying = history.some(orders_of(history, OrderState.UNPAID), PAY_SHARE)
    for order, at in zip(paying, moments(history, now, len(paying))):
        method = history.rng.choices(list(GATEWAYS), weights=list(GATEWAYS.values()))[0]
        outcome = fin.record_gateway_payment(
            history.session, actor=history.actors.finance, order_number=order.number, method=method.value,
            amount=order.total_amount, reference=gateway_reference(method, order.id, at), paid_at=at, now=at)
        history.tally("record_gateway_payment", outcome.ok)


def gateway_reference(method: PaymentMethod, order_id: int, at: datetime) -> str:
    """The gateway's transaction number: unique per method, as the order id is unique in the database."""
    return f"{REFERENCE_PREFIX[method]}{local_time(at):%Y%m%d%H%M%S}{order_id:08d}"
