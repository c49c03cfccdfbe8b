"""Money in the demo history, made only by the finance operations: orders for the persons waiting to pay,
payments online (QR, B2B) or by bank transfer with a voucher that finance verifies or rejects, cancelled
orders, and the expiry run the night after the transfer deadline.

Each step is a function of (history, week, now), like the History's own steps, and acts as the user whose
job it is: a sub-delegation's admin puts its persons on orders and acts for its organisations (vouchers,
cancellations), finance's account records gateway notifications and reviews vouchers. Whether a change
happens stays the domain's decision; refused rows stay where they are.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select

from admin_app.seed.tree import BEIJING
from admin_app.seed.vouchers import receipt_lines, store_voucher
from models import Order, OrderLine, OrderState, Organization, Payment, PaymentMethod, PersonState
from models.enums import PaymentState
from models.finance import operations as fin
from models.finance.ordering import local_time
from models.ids import id_in

P = PersonState
# How organisations pay online (seed 002: 扫码支付 支付宝/微信/银联, B2B网上支付), by weight.
GATEWAYS = {PaymentMethod.QR_ALIPAY: 40, PaymentMethod.QR_WECHAT: 35, PaymentMethod.QR_UNIONPAY: 10,
            PaymentMethod.B2B: 15}
REFERENCE_PREFIX = {PaymentMethod.QR_ALIPAY: "ALI", PaymentMethod.QR_WECHAT: "WX", PaymentMethod.QR_UNIONPAY: "UP",
                    PaymentMethod.B2B: "B2B"}
# What an organisation does about an unpaid order in a week: (pay online, send a voucher, cancel); else wait.
# After a rejected voucher fewer try again, and those who never do see the order expire.
FIRST_TRY = (0.45, 0.25, 0.04)
AFTER_REJECTION = (0.15, 0.3, 0.0)
VERIFY, REJECT = 0.65, 0.12  # of the vouchers waiting, what finance gets to each week; the rest wait
REJECT_REASONS = ("汇款凭证图片不清晰，请重新上传", "汇款金额与银行到账金额不符，请核对后重新提交",
                  "付款单位与报名单位不一致，请补充付款说明", "银行未查到该笔汇款，请核对汇款流水号")
CANCEL_REASONS = ("单位申请取消：需修改参会人员", "单位申请取消：改为统一付款")
PAYER_BANKS = ("中国工商银行广州天河支行", "中国建设银行深圳福田支行", "中国银行佛山分行营业部", "招商银行东莞分行",
               "中国农业银行珠海拱北支行", "交通银行汕头分行")
PAYING_HOURS = 4  # notifications and uploads arrive over the hours after the step's moment
PDF_SHARE = 0.25  # vouchers uploaded as a PDF rather than a photo or screenshot


def on_open_orders(history) -> set[int]:
    """This run's persons already on an open order (unpaid, awaiting voucher review or paid)."""
    if not history.persons:
        return set()
    return set(history.session.scalars(select(OrderLine.person_id).where(
        id_in(OrderLine.person_id, history.persons), OrderLine.is_open)))


def orders_of(history, *states: OrderState) -> list:
    """This run's orders in these states, oldest first: id, number, total, sub-delegation, method, organisation.

    Orders of deleted organisations (duplicates, tests) are left alone: nobody pays for those.
    """
    if not history.orgs:
        return []
    return history.session.execute(
        select(Order.id, Order.number, Order.total_amount, Order.sub_delegation_id, Order.payment_method,
               Organization.name.label("org_name"))
        .join(Organization, Organization.id == Order.organization_id)
        .where(id_in(Order.organization_id, history.orgs), Order.state.in_([s.value for s in states]),
               Organization.deleted_at.is_(None))
        .order_by(Order.id)).all()


def vouchers_waiting(history) -> list:
    """This run's transfer payments waiting for finance, oldest first."""
    if not history.orgs:
        return []
    return history.session.execute(
        select(Payment.id).join(Order, Order.id == Payment.order_id)
        .where(id_in(Order.organization_id, history.orgs), Payment.state == PaymentState.SUBMITTED.value)
        .order_by(Payment.id)).all()


def moments(history, now: datetime, n: int) -> list[datetime]:
    """n moments in the PAYING_HOURS after `now`, in time order."""
    return sorted(now + timedelta(minutes=history.rng.randrange(PAYING_HOURS * 60)) for _ in range(n))


# -- the weekly steps --------------------------------------------------------------------------------


def put_on_orders(history, week: int, now: datetime) -> None:
    """Each sub-delegation's admin puts persons waiting to pay (and on no open order) on orders."""
    taken = on_open_orders(history)
    waiting = [p for p in history.person_rows(P.PENDING_PAYMENT) if p.id not in taken]
    history.each_admin(fin.create_orders, history.some(waiting, 0.9), now)


def organisations_pay(history, week: int, now: datetime) -> None:
    """Organisations pay unpaid orders online or by transfer (a voucher), cancel a few, and let the rest wait."""
    unpaid = orders_of(history, OrderState.UNPAID)
    for order, at in zip(unpaid, moments(history, now, len(unpaid))):
        online, voucher, cancel = AFTER_REJECTION if order.payment_method else FIRST_TRY
        draw = history.rng.random()
        if draw < online:
            pay_online(history, order, at)
        elif draw < online + voucher:
            send_voucher(history, order, at)
        elif draw < online + voucher + cancel:
            history.act(fin.cancel_orders, [order.id], history.actors.admins[order.sub_delegation_id], at,
                        reason=history.reason(CANCEL_REASONS))


def pay_online(history, order, at: datetime) -> None:
    """The gateway notifies a QR or B2B payment; finance's gateway account records it (the order is paid)."""
    method = history.rng.choices(list(GATEWAYS), weights=list(GATEWAYS.values()))[0]
    outcome = fin.record_gateway_payment(
        history.session, actor=history.actors.finance, order_number=order.number, method=method.value,
        amount=order.total_amount, reference=gateway_reference(method, order.id, at), paid_at=at, now=at)
    history.tally("record_gateway_payment", outcome.ok)


def send_voucher(history, order, at: datetime) -> None:
    """The organisation transfers the fee and uploads the bank's receipt; its admin submits it for review."""
    account = bank_account(history)
    reference = f"TR{local_time(at):%Y%m%d}{history.rng.randrange(10**8):08d}"
    lines = receipt_lines(order.number, order.total_amount, account, reference, f"{local_time(at):%Y-%m-%d}")
    voucher = store_voucher(lines, pdf=history.rng.random() < PDF_SHARE, root=history.uploads)
    history.act(submit_voucher, [order.id], history.actors.admins[order.sub_delegation_id], at, voucher=voucher,
                amount=order.total_amount, payer_kind="organization", payer_name=order.org_name,
                payer_bank=history.rng.choice(PAYER_BANKS), payer_account=account, reference=reference)


def submit_voucher(session, ids: list[int], **params):
    """fin.submit_voucher as a batch verb for history.act: a voucher is for one order."""
    [order_id] = ids
    return fin.submit_voucher(session, order_id, **params)


def finance_reviews_vouchers(history, week: int, now: datetime) -> None:
    """Finance verifies the vouchers it checked against the bank statement and rejects the doubtful ones."""
    verified, rejected = [], {}
    for payment in vouchers_waiting(history):
        draw = history.rng.random()
        if draw < VERIFY:
            verified.append(payment.id)
        elif draw < VERIFY + REJECT:
            rejected.setdefault(history.reason(REJECT_REASONS), []).append(payment.id)
    history.act(fin.verify_payments, verified, history.actors.finance, now)
    for i, (reason, ids) in enumerate(sorted(rejected.items())):
        history.act(fin.reject_vouchers, ids, history.actors.finance, now + timedelta(minutes=20 + i), reason=reason)


def expire_overdue(history) -> None:
    """The nightly expiry run just after the transfer deadline (the history's last day), as finance.

    Orders left with a rejected voucher (their method is transfer) expire; orders whose method is not chosen
    yet wait for the later QR/B2B deadline and stay unpaid. The demo opens on that morning.
    """
    day = local_time(history.calendar.end).date() + timedelta(days=1)
    at = datetime.combine(day, time(0, 30), BEIJING).astimezone(timezone.utc)
    result = fin.expire_orders(history.session, actor=history.actors.finance, as_of=day, now=at)
    history.done["expire_orders"] += len(result.done)


def gateway_reference(method: PaymentMethod, order_id: int, at: datetime) -> str:
    """The gateway's transaction number: unique per method, as the order id is unique in the database."""
    return f"{REFERENCE_PREFIX[method]}{local_time(at):%Y%m%d%H%M%S}{order_id:08d}"


def bank_account(history) -> str:
    """A bank account number of 19 digits."""
    return "".join(history.rng.choice("0123456789") for _ in range(19))
