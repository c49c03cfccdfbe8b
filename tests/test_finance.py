"""Issue 9, the finance domain: fees, orders, payments, invoices, refunds, batch refunds, co-payment give-back.

Every test runs on SQLite and on PostgreSQL. Builders of this file (finance_world, waiting, ordered, paid)
sit on tests/factories.py; the gateway, its Flask endpoint, the CLI and the bank file come last.
"""
from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from factories import audit_entries, make_organization, make_person, make_world
from models import (AuditEntry, CopayDecision, Invoice, InvoiceState, Label, Order, OrderLine, OrderState, OrgState,
                    Payment, Person, PersonState, Refund, RefundState, Role)
from models.enums import PaymentState
from models.errors import GuardFailed, InvalidParameter, InvalidState, NotAllowed
from models.finance import operations as fin
from models.finance.balances import order_money
from models.finance.fees import fee_expression, fee_of
from models.finance.gateway import BadSignature, InvalidNotification, handle_notification, sign
from models.registration import operations as registration
from models.registration.quotas import copay_used
from models.registration.quotas import fee_expression as quotas_fee_expression
from reports.finance import write_bank_batch

NOW = datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing, before every deadline
VOUCHER = "voucher/" + "ab" * 16 + ".png"
SECRET = "gateway-secret"
BANK = dict(payee_name="张三", bank_account="6222020200112233445", bank_name="中国银行上海市浦东分行",
            bank_code="104290003017")


# --------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------

def finance_world(session, **kw):
    """make_world with the seed's deadlines: transfer by 12 Oct, QR and B2B by 15 Oct."""
    world = make_world(session, **kw)
    world.edition.transfer_deadline = date(2025, 10, 12)
    world.edition.qr_deadline = world.edition.b2b_deadline = date(2025, 10, 15)
    session.flush()
    return world


def waiting(session, world, code="GZ", n=2, org=None, **kw):
    """An approved organisation of `code` and n of its persons waiting for payment."""
    org = org or make_organization(session, world.subs[code], state=OrgState.APPROVED)
    return org, [make_person(session, org, state=PersonState.PENDING_PAYMENT, **kw).id for _ in range(n)]


def ordered(session, world, code="GZ", n=2, **kw):
    """An unpaid order of n persons, created by the sub-delegation's admin."""
    _, ids = waiting(session, world, code, n, **kw)
    batch = fin.create_orders(session, ids, actor=world.admins[code], now=NOW)
    assert batch.complete and len(batch.order_ids) == 1
    return session.get(Order, batch.order_ids[0]), ids


def pay(session, world, order, method="qr_alipay", reference=None, amount=None):
    return fin.record_gateway_payment(session, actor=world.finance, order_number=order.number, method=method,
                                      amount=amount if amount is not None else order.total_amount,
                                      reference=reference or f"REF-{order.id}-{method}", paid_at=NOW, now=NOW)


def paid(session, world, code="GZ", n=2, method="qr_alipay"):
    order, ids = ordered(session, world, code, n)
    assert pay(session, world, order, method).ok
    session.refresh(order)
    return order, ids


def submit(session, world, order, amount=None, **kw):
    values = dict(voucher=VOUCHER, amount=amount if amount is not None else order.total_amount,
                  payer_kind="organization", payer_name="广州某某贸易有限公司", payer_bank="工商银行天河支行",
                  payer_account="3602000109000000001", payer_phone="020-88888888", now=NOW)
    values.update(kw)
    return fin.submit_voucher(session, order.id, actor=world.admins["GZ"], **values)


def lines_of(session, order):
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))


def states(session, ids):
    session.expire_all()
    return {session.get(Person, i).state for i in ids}


def set_person_state(session, ids, state):
    for i in ids:
        session.get(Person, i).state = state
    session.flush()


@pytest.fixture
def fw(session):
    return finance_world(session)


class StatementCounter:
    """with StatementCounter(engine) as seen: ...; len(seen) statements ran on the engine inside."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.seen.append(statement)


# --------------------------------------------------------------------------------------------------
# 1. Fees
# --------------------------------------------------------------------------------------------------

def test_one_fee_function_free_labels_and_reuse_percentage(session, fw):
    org = make_organization(session, fw.subs["GZ"], state=OrgState.APPROVED)
    people = {
        "pro": make_person(session, org), "vip": make_person(session, org, label=Label.VIP),
        "staff": make_person(session, org, label=Label.STAFF), "reuse": make_person(session, org, is_reuse=True),
        "reuse_vip": make_person(session, org, label=Label.VIP, is_reuse=True)}
    fees = dict(session.execute(select(Person.id, fee_expression())).all())
    expected = {"pro": "200.00", "vip": "0", "staff": "0", "reuse": "100.00", "reuse_vip": "0"}
    assert {k: Decimal(str(fees[p.id])) for k, p in people.items()} == {k: Decimal(v) for k, v in expected.items()}
    for key, person in people.items():  # the Python twin agrees
        assert fee_of(fw.edition.fee_per_label, fw.edition.reuse_fee_percent, person.label,
                      person.is_reuse) == Decimal(expected[key])
    # Co-payment (registration/quotas) charges the same fee.
    assert dict(session.execute(select(Person.id, quotas_fee_expression())).all()) == fees


# --------------------------------------------------------------------------------------------------
# 2. Orders
# --------------------------------------------------------------------------------------------------

def test_create_orders_one_per_organisation_one_line_per_person(session, fw):
    org_a, a = waiting(session, fw, n=3)
    org_b, b = waiting(session, fw, n=1, is_reuse=True)
    batch = fin.create_orders(session, a + b, actor=fw.admins["GZ"], now=NOW)
    assert batch.complete and sorted(batch.done) == sorted(a + b) and len(batch.order_ids) == 2
    orders = {o.organization_id: o for o in session.scalars(select(Order).where(Order.id.in_(batch.order_ids)))}
    assert orders[org_a.id].total_amount == Decimal("600.00") and orders[org_b.id].total_amount == Decimal("100.00")
    for order in orders.values():
        # V + yyyymmddHHMMSS (Beijing) + 6 digits + a 3-digit sequence, as in the seed: V20200512230313594063001
        assert order.number.startswith("V20251001100000") and len(order.number) == 24 and order.number[1:].isdigit()
        assert order.state is OrderState.UNPAID and order.sub_delegation_id == fw.subs["GZ"].id
    assert {o.number[-3:] for o in orders.values()} == {"001", "002"}
    lines = lines_of(session, orders[org_a.id])
    assert [(l.person_id, l.fee, l.is_open) for l in lines] == [(p, Decimal("200.00"), True) for p in a]
    assert states(session, a + b) == {PersonState.PENDING_PAYMENT}  # they leave it only when paid
    assert Counter(e.object_id for e in audit_entries(session, "order", action="order.created")) == \
        Counter(batch.order_ids)


def test_create_orders_refuses_with_reasons(session, fw):
    _, ids = waiting(session, fw, n=3)
    set_person_state(session, ids[2:], PersonState.PENDING_REVIEW)
    _, sz = waiting(session, fw, "SZ", n=1)
    first = fin.create_orders(session, ids[:1], actor=fw.admins["GZ"], now=NOW)
    order = session.get(Order, first.order_ids[0])
    again = fin.create_orders(session, ids + sz + [999999], actor=fw.admins["GZ"], now=NOW)
    assert again.done == [ids[1]]
    assert again.skipped[ids[0]] == f"已在订单 {order.number} 中（取消或过期后才能重新生成订单）"
    assert "只有待支付的人员可以生成订单" in again.skipped[ids[2]]
    assert again.skipped[sz[0]].code == again.skipped[999999].code == "not_visible"
    for role in (Role.FINANCE, Role.VIEWER):
        with pytest.raises(NotAllowed):
            fin.create_orders(session, ids, actor=fw.user(role), now=NOW)


def test_a_person_is_on_at_most_one_open_order_in_the_database(session, fw):
    order, ids = ordered(session, fw, n=1)
    other = Order(number="VTEST0001", edition_id=fw.edition.id, organization_id=order.organization_id,
                  sub_delegation_id=order.sub_delegation_id, total_amount=Decimal("200"))
    session.add(other)
    session.flush()
    with pytest.raises(IntegrityError) as error:
        with session.begin_nested():
            session.execute(insert(OrderLine).values(order_id=other.id, person_id=ids[0], label="professional",
                                                     is_reuse=False, fee=Decimal("200"), is_open=True))
    assert "uq_order_line_one_open_per_person" in str(error.value) or "order_line.person_id" in str(error.value)


def test_cancel_returns_the_persons_to_a_new_order(session, fw):
    order, ids = ordered(session, fw)
    with pytest.raises(NotAllowed):
        fin.cancel_orders(session, [order.id], actor=fw.finance)
    result = fin.cancel_orders(session, [order.id], actor=fw.admins["GZ"], reason="重新选择人员", now=NOW)
    assert result.done == [order.id]
    session.refresh(order)
    assert order.state is OrderState.CANCELLED and not any(l.is_open for l in lines_of(session, order))
    assert states(session, ids) == {PersonState.PENDING_PAYMENT}
    assert fin.create_orders(session, ids, actor=fw.secretariat, now=NOW).done == ids
    paid_order, _ = paid(session, fw)
    refused = fin.cancel_orders(session, [paid_order.id], actor=fw.secretariat)
    assert refused.skipped[paid_order.id] == "当前状态为「已支付」，不能取消订单"


def test_expire_orders_after_their_methods_deadline_idempotently(session, fw):
    open_any, _ = ordered(session, fw)             # no method chosen: waits for the latest deadline (15 Oct)
    by_transfer, _ = ordered(session, fw)          # a voucher was rejected: the transfer deadline (12 Oct)
    submit(session, fw, by_transfer)
    voucher = session.scalar(select(Payment.id).where(Payment.order_id == by_transfer.id))
    fin.reject_vouchers(session, [voucher], actor=fw.finance, reason="凭证不清晰", now=NOW)
    paid_order, _ = paid(session, fw)

    assert fin.expire_orders(session, actor=fw.finance, as_of=date(2025, 10, 12)).done == []
    assert fin.expire_orders(session, actor=fw.finance, as_of=date(2025, 10, 13)).done == [by_transfer.id]
    assert fin.expire_orders(session, actor=fw.secretariat, as_of=date(2025, 10, 15)).done == []
    assert fin.expire_orders(session, actor=fw.finance, as_of=date(2025, 10, 16)).done == [open_any.id]
    again = fin.expire_orders(session, actor=fw.finance, as_of=date(2025, 10, 20))
    assert again.done == [] and again.skipped == {}
    session.expire_all()
    assert session.get(Order, paid_order.id).state is OrderState.PAID
    assert not any(l.is_open for l in lines_of(session, session.get(Order, open_any.id)))
    assert Counter(e.object_id for e in audit_entries(session, "order", action="order.expired")) == \
        Counter({by_transfer.id: 1, open_any.id: 1})
    with pytest.raises(NotAllowed):
        fin.expire_orders(session, actor=fw.admins["GZ"])


def test_order_creation_takes_the_same_statements_for_10_and_200_persons(session, fw, engine):
    counts = []
    for n in (10, 200):
        _, ids = waiting(session, fw, n=n)
        with StatementCounter(engine) as seen:
            batch = fin.create_orders(session, ids, actor=fw.admins["GZ"], now=NOW)
        assert len(batch.done) == n
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 6, counts


# --------------------------------------------------------------------------------------------------
# 3. Payments
# --------------------------------------------------------------------------------------------------

def test_gateway_payment_pays_the_order_and_moves_its_persons_once(session, fw):
    order, ids = ordered(session, fw)
    first = pay(session, fw, order, reference="ALI-1")
    second = pay(session, fw, order, reference="ALI-1")
    assert first == second and first.ok and first.amount == "400.00"
    assert session.scalar(select(func.count()).select_from(Payment).where(Payment.order_id == order.id)) == 1
    session.refresh(order)
    assert order.state is OrderState.PAID and order.payment_method.value == "qr_alipay"
    assert states(session, ids) == {PersonState.PENDING_REVIEW}
    assert Counter(e.object_id for e in audit_entries(session, "person", action="person.paid")) == Counter(ids)
    assert order_money(session, [order.id])[order.id]["balance"] == Decimal("400.00")
    other = pay(session, fw, order, reference="ALI-2")
    assert not other.ok and other.reason == "订单状态为「已支付」，不能再收款"


def test_gateway_amount_that_does_not_match_is_refused_with_the_difference(session, fw):
    order, ids = ordered(session, fw)
    outcome = pay(session, fw, order, amount=Decimal("300.00"), reference="WX-9", method="qr_wechat")
    assert not outcome.ok
    assert outcome.reason == "支付金额与订单不符：订单应付 400.00 元，支付金额 300.00 元，相差 100.00 元"
    assert session.scalar(select(func.count()).select_from(Payment)) == 0
    assert states(session, ids) == {PersonState.PENDING_PAYMENT}


def test_gateway_reference_is_unique_per_method_in_the_database(session, fw):
    order, _ = ordered(session, fw)
    pay(session, fw, order, reference="SAME", method="b2b")
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Payment(order_id=order.id, method="b2b", amount=Decimal("1"), reference="SAME",
                                paid_at=NOW, state=PaymentState.RECORDED))
            session.flush()


def test_voucher_submitted_then_verified_pays_the_order(session, fw):
    order, ids = ordered(session, fw)
    assert submit(session, fw, order).done == [order.id]
    session.refresh(order)
    assert order.state is OrderState.VOUCHER_SUBMITTED and order.payment_method.value == "transfer"
    payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert (payment.state, payment.voucher_file, payment.amount) == (PaymentState.SUBMITTED, VOUCHER, Decimal("400"))
    assert states(session, ids) == {PersonState.PENDING_PAYMENT}
    with pytest.raises(NotAllowed):
        fin.verify_payments(session, [payment.id], actor=fw.admins["GZ"])
    assert fin.verify_payments(session, [payment.id], actor=fw.finance, now=NOW).done == [payment.id]
    session.expire_all()
    assert session.get(Order, order.id).state is OrderState.PAID
    assert session.get(Payment, payment.id).verified_by_id == fw.finance.id
    assert states(session, ids) == {PersonState.PENDING_REVIEW}
    again = fin.verify_payments(session, [payment.id], actor=fw.finance)
    assert again.skipped[payment.id] == "当前状态为「已核验」，不能核验通过"


def test_rejected_voucher_stays_on_record_and_a_new_one_may_follow(session, fw):
    order, ids = ordered(session, fw)
    submit(session, fw, order)
    old = session.scalar(select(Payment.id).where(Payment.order_id == order.id))
    assert fin.reject_vouchers(session, [old], actor=fw.finance, reason="凭证金额看不清", now=NOW).done == [old]
    session.expire_all()
    assert session.get(Order, order.id).state is OrderState.UNPAID
    assert session.get(Payment, old).review_note == "凭证金额看不清"
    assert submit(session, fw, order, payer_name="广州某某贸易有限公司").done == [order.id]
    vouchers = list(session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)))
    assert [p.state for p in vouchers] == [PaymentState.REJECTED, PaymentState.SUBMITTED]
    fin.verify_payments(session, [vouchers[1].id], actor=fw.finance, now=NOW)
    assert states(session, ids) == {PersonState.PENDING_REVIEW}
    assert order_money(session, [order.id])[order.id]["settled"] == Decimal("400.00")


def test_voucher_refusals_amount_file_deadline_state(session, fw):
    order, _ = ordered(session, fw)
    with pytest.raises(InvalidParameter) as wrong:
        submit(session, fw, order, amount="350")
    assert str(wrong.value) == "汇款金额与订单不符：订单应付 400.00 元，汇款金额 350.00 元，相差 50.00 元"
    with pytest.raises(InvalidParameter) as no_file:
        submit(session, fw, order, voucher="../../etc/passwd")
    assert no_file.value.field == "voucher"
    with pytest.raises(GuardFailed) as late:
        submit(session, fw, order, now=datetime(2025, 10, 12, 16, 30, tzinfo=timezone.utc))  # 13 Oct 00:30 Beijing
    assert "已过转账支付截止日（2025-10-12）" in str(late.value)
    submit(session, fw, order)
    assert "不能上传汇款凭证" in submit(session, fw, order).skipped[order.id]


def test_gateway_payment_while_a_voucher_waits_leaves_the_voucher_to_be_rejected(session, fw):
    order, ids = ordered(session, fw)
    submit(session, fw, order)
    voucher = session.scalar(select(Payment.id).where(Payment.order_id == order.id))
    assert pay(session, fw, order, reference="UP-1", method="qr_unionpay").ok
    refused = fin.verify_payments(session, [voucher], actor=fw.finance, now=NOW)
    assert refused.skipped[voucher] == "订单状态为「已支付」，该凭证不能再核验，请驳回"
    assert order_money(session, [order.id])[order.id]["settled"] == Decimal("400.00")  # never paid twice
    assert fin.reject_vouchers(session, [voucher], actor=fw.finance, reason="已扫码支付", now=NOW).done == [voucher]
    session.expire_all()
    assert session.get(Order, order.id).state is OrderState.PAID


# --------------------------------------------------------------------------------------------------
# 4. Invoices
# --------------------------------------------------------------------------------------------------

def test_invoice_only_for_a_paid_order_one_valid_at_a_time(session, fw):
    unpaid, _ = ordered(session, fw)
    with pytest.raises(InvalidState):
        fin.request_invoice(session, unpaid.id, actor=fw.admins["GZ"], kind="electronic_normal", title="某单位",
                            tax_number="91440101MA59XXXX0X")
    order, _ = paid(session, fw)
    invoice = fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="electronic_normal",
                                  title="广州某单位", tax_number="91440101ma5cxx1234", email="cw@example.cn", now=NOW)
    assert (invoice.state, invoice.amount, invoice.tax_number) == (InvoiceState.REQUESTED, Decimal("400.00"),
                                                                   "91440101MA5CXX1234")
    with pytest.raises(GuardFailed) as second:
        fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="electronic_normal", title="再开一张",
                            tax_number="91440101MA5CXX1234")
    assert "每个订单仅限开具一张发票" in str(second.value)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Invoice(order_id=order.id, kind="electronic_normal", title="x", amount=Decimal("1")))
            session.flush()
    assert fin.issue_invoices(session, [invoice.id], actor=fw.finance, number="25440000000000000001",
                              now=NOW).done == [invoice.id]
    with pytest.raises(NotAllowed):
        fin.void_invoices(session, [invoice.id], actor=fw.admins["GZ"], reason="抬头有误")
    assert fin.request_invoice_voids(session, [invoice.id], actor=fw.admins["GZ"], reason="抬头有误",
                                     now=NOW).done == [invoice.id]
    assert fin.void_invoices(session, [invoice.id], actor=fw.finance, reason="抬头有误", now=NOW).done == [invoice.id]
    anew = fin.request_invoice(session, order.id, actor=fw.secretariat, kind="electronic_normal", title="广州某单位",
                               tax_number="91440101MA5CXX1234", now=NOW)
    assert anew.state is InvoiceState.REQUESTED
    assert [e.action for e in audit_entries(session, "invoice", invoice.id)] == \
        ["invoice.requested", "invoice.issued", "invoice.void_requested", "invoice.voided"]


def test_invoice_title_is_the_paying_organisation_for_b2b_and_transfer(session, fw):
    b2b, _ = paid(session, fw, method="b2b")
    org_name = session.get(Order, b2b.id).organization.name
    invoice = fin.request_invoice(session, b2b.id, actor=fw.admins["GZ"], kind="electronic_normal",
                                  tax_number="91440101MA5CXX1234", now=NOW)
    assert invoice.title == org_name
    transfer, _ = ordered(session, fw)
    submit(session, fw, transfer, payer_name="汇款单位甲")
    fin.verify_payments(session, select(Payment.id).where(Payment.order_id == transfer.id), actor=fw.finance,
                        now=NOW)
    with pytest.raises(InvalidParameter) as changed:
        fin.request_invoice(session, transfer.id, actor=fw.admins["GZ"], kind="electronic_normal", title="别的单位",
                            tax_number="91440101MA5CXX1234")
    assert changed.value.field == "title" and "须与付款单位一致（汇款单位甲）" in str(changed.value)
    qr, _ = paid(session, fw, method="qr_wechat")  # scanned by anyone: the title is free
    personal = fin.request_invoice(session, qr.id, actor=fw.admins["GZ"], kind="electronic_normal",
                                   title_kind="individual", title="张三", now=NOW)
    assert personal.title == "张三"


def test_paper_special_invoice_needs_the_seed_fields_and_a_courier(session, fw):
    order, _ = paid(session, fw)
    with pytest.raises(InvalidParameter) as missing:
        fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="paper_special", title="广州某单位",
                            tax_number="91440101MA5CXX1234", address="广州市天河路1号")
    assert missing.value.field == "phone"
    invoice = fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="paper_special", title="广州某单位",
                                  tax_number="91440101MA5CXX1234", address="广州市天河路1号", phone="020-1234567",
                                  bank_name="工商银行天河支行", bank_account="3602000109000000001", now=NOW)
    no_courier = fin.issue_invoices(session, [invoice.id], actor=fw.finance, number="00000001")
    assert no_courier.skipped[invoice.id] == "纸质专用发票须填写快递公司和快递单号"
    done = fin.issue_invoices(session, [invoice.id], actor=fw.finance, number="00000001", courier_company="顺丰",
                              courier_number="SF1234567890", now=NOW)
    assert done.done == [invoice.id]
    with pytest.raises(InvalidParameter):
        fin.issue_invoices(session, [invoice.id, invoice.id + 1], actor=fw.finance, number="00000002")


# --------------------------------------------------------------------------------------------------
# 5. Refunds
# --------------------------------------------------------------------------------------------------

def test_refund_only_for_review_failed_or_cancelled_and_never_while_invoiced(session, fw):
    order, ids = paid(session, fw, n=3)
    lines = lines_of(session, order)
    set_person_state(session, ids[:1], PersonState.REVIEW_FAILED)
    set_person_state(session, ids[1:2], PersonState.CANCELLED)
    invoice = fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="electronic_normal", title="某单位",
                                  tax_number="91440101MA5CXX1234", now=NOW)
    blocked = fin.request_refund(session, [l.id for l in lines], actor=fw.admins["GZ"], method="original_route")
    assert blocked.done == [] and "请先作废发票" in blocked.skipped[lines[0].id]
    assert "只有审核不通过或已注销的人员可以申请退款" in blocked.skipped[lines[2].id]
    fin.void_invoices(session, [invoice.id], actor=fw.finance, reason="需退款", now=NOW)
    requested = fin.request_refund(session, [l.id for l in lines], actor=fw.admins["GZ"], method="original_route",
                                   reason="审核不通过", now=NOW)
    assert requested.done == [lines[0].id, lines[1].id] and len(requested.refund_ids) == 2
    refunds = list(session.scalars(select(Refund).where(Refund.id.in_(requested.refund_ids)).order_by(Refund.id)))
    assert [(r.amount, r.paid_amount, r.state) for r in refunds] == [(Decimal("200"), Decimal("200"),
                                                                       RefundState.REQUESTED)] * 2
    again = fin.request_refund(session, [lines[0].id], actor=fw.admins["GZ"], method="original_route")
    assert again.skipped[lines[0].id] == "该人员已有退款（已申请），不能重复申请"
    with pytest.raises(GuardFailed) as no_invoice:  # and no invoice while a refund is under way
        fin.request_invoice(session, order.id, actor=fw.admins["GZ"], kind="electronic_normal", title="某单位",
                            tax_number="91440101MA5CXX1234")
    assert "退款正在办理" in str(no_invoice.value)


def test_refund_to_a_bank_account_needs_all_four_details_and_a_transfer(session, fw):
    qr_order, qr_ids = paid(session, fw, n=1)
    set_person_state(session, qr_ids, PersonState.REVIEW_FAILED)
    line = lines_of(session, qr_order)[0]
    with pytest.raises(InvalidParameter) as missing:
        fin.request_refund(session, [line.id], actor=fw.admins["GZ"], method="bank_account",
                           **{**BANK, "bank_code": " "})
    assert missing.value.field == "bank_code"
    refused = fin.request_refund(session, [line.id], actor=fw.admins["GZ"], method="bank_account", **BANK)
    assert refused.skipped[line.id] == "扫码或B2B支付的订单只能原路退回"
    order, ids = ordered(session, fw, n=1)
    submit(session, fw, order)
    fin.verify_payments(session, select(Payment.id).where(Payment.order_id == order.id), actor=fw.finance, now=NOW)
    set_person_state(session, ids, PersonState.CANCELLED)
    done = fin.request_refund(session, [lines_of(session, order)[0].id], actor=fw.admins["GZ"],
                              method="bank_account", **BANK, now=NOW)
    refund = session.get(Refund, done.refund_ids[0])
    assert (refund.payee_name, refund.bank_account, refund.bank_code) == (BANK["payee_name"], BANK["bank_account"],
                                                                          BANK["bank_code"])
    with pytest.raises(IntegrityError):  # the database holds the four details too
        with session.begin_nested():
            session.add(Refund(order_id=order.id, order_line_id=refund.order_line_id, amount=Decimal("1"),
                               paid_amount=Decimal("200"), method="bank_account", payee_name="x", bank_account="1",
                               state=RefundState.REJECTED))
            session.flush()


def test_refund_constraints_never_more_than_paid_one_active_per_line(session, fw):
    order, ids = paid(session, fw, n=1)
    set_person_state(session, ids, PersonState.REVIEW_FAILED)
    line = lines_of(session, order)[0]
    fin.request_refund(session, [line.id], actor=fw.admins["GZ"], method="original_route", now=NOW)
    for values in (dict(amount=Decimal("201"), paid_amount=Decimal("200"), state=RefundState.REJECTED),
                   dict(amount=Decimal("200"), paid_amount=Decimal("200"), state=RefundState.REQUESTED)):
        with pytest.raises(IntegrityError):
            with session.begin_nested():
                session.add(Refund(order_id=order.id, order_line_id=line.id, method="original_route", **values))
                session.flush()


def test_approve_reject_mark_refunded_and_request_again_after_rejection(session, fw):
    order, ids = paid(session, fw, n=2)
    set_person_state(session, ids, PersonState.REVIEW_FAILED)
    lines = lines_of(session, order)
    refund_ids = fin.request_refund(session, [l.id for l in lines], actor=fw.admins["GZ"],
                                    method="original_route", now=NOW).refund_ids
    with pytest.raises(NotAllowed):
        fin.approve_refunds(session, refund_ids, actor=fw.admins["GZ"])
    assert fin.approve_refunds(session, refund_ids, actor=fw.finance, now=NOW).done == refund_ids
    assert fin.reject_refunds(session, refund_ids[1:], actor=fw.finance, reason="重复申请", now=NOW).done == \
        refund_ids[1:]
    assert fin.mark_refunded(session, refund_ids, actor=fw.finance, now=NOW).done == refund_ids[:1]
    money = order_money(session, [order.id])[order.id]
    assert (money["refunded"], money["balance"]) == (Decimal("200.00"), Decimal("200.00"))
    anew = fin.request_refund(session, [lines[1].id], actor=fw.admins["GZ"], method="original_route", now=NOW)
    assert anew.done == [lines[1].id]
    twice = fin.request_refund(session, [lines[0].id], actor=fw.admins["GZ"], method="original_route")
    assert twice.skipped[lines[0].id] == "该人员已有退款（已退款），不能重复申请"


def test_approval_is_refused_while_an_invoice_is_valid(session, fw):
    order, ids = paid(session, fw, n=1)
    set_person_state(session, ids, PersonState.CANCELLED)
    refund_id = fin.request_refund(session, [lines_of(session, order)[0].id], actor=fw.admins["GZ"],
                                   method="original_route", now=NOW).refund_ids[0]
    # An invoice that slipped in (imported, say): refunds wait for its void.
    session.add(Invoice(order_id=order.id, kind="electronic_normal", title="x", amount=Decimal("200")))
    session.flush()
    refused = fin.approve_refunds(session, [refund_id], actor=fw.finance)
    assert refused.skipped[refund_id] == "订单有未作废的发票，请先作废发票（退票）后再退款"
    batch = fin.batch_refund(session, [refund_id], actor=fw.finance, now=NOW)
    assert batch.skipped[refund_id] == "订单有未作废的发票，请先作废发票（退票）后再退款"


# --------------------------------------------------------------------------------------------------
# 6. Batch refund and the bank file
# --------------------------------------------------------------------------------------------------

def refunds_ready(session, world, n, method="original_route", by_transfer=False):
    """n refund requests, one per paid line of review-failed persons."""
    order, ids = ordered(session, world, n=n)
    if by_transfer:
        submit(session, world, order)
        fin.verify_payments(session, select(Payment.id).where(Payment.order_id == order.id), actor=world.finance,
                            now=NOW)
    else:
        pay(session, world, order)
    set_person_state(session, ids, PersonState.REVIEW_FAILED)
    details = BANK if method == "bank_account" else {}
    return fin.request_refund(session, [l.id for l in lines_of(session, order)], actor=world.admins["GZ"],
                              method=method, now=NOW, **details).refund_ids


def test_batch_refund_reports_per_row_and_refunds_nothing_twice(session, fw):
    ids = refunds_ready(session, fw, 4)
    fin.approve_refunds(session, ids[1:2], actor=fw.finance, now=NOW)
    fin.reject_refunds(session, ids[2:3], actor=fw.finance, reason="不符合", now=NOW)
    batch = fin.batch_refund(session, ids, actor=fw.finance, now=NOW)
    assert batch.done == [ids[0], ids[1], ids[3]] and batch.batch.startswith("RB20251001100000")
    assert batch.skipped == {ids[2]: "当前状态为「已驳回」，不能标记已退款"}
    session.expire_all()
    assert {session.get(Refund, i).batch for i in batch.done} == {batch.batch}
    again = fin.batch_refund(session, ids, actor=fw.finance, now=NOW)
    assert again.done == [] and set(again.skipped) == set(ids)
    assert Counter(e.object_id for e in audit_entries(session, "refund", action="refund.refunded")) == \
        Counter(batch.done)
    with pytest.raises(NotAllowed):
        fin.batch_refund(session, ids, actor=fw.secretariat)


def test_batch_refund_statement_count_does_not_grow(session, fw, engine):
    counts = []
    for n in (3, 40):
        ids = refunds_ready(session, fw, n)
        with StatementCounter(engine) as seen:
            assert len(fin.batch_refund(session, ids, actor=fw.finance, now=NOW).done) == n
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_bank_batch_file_lists_bank_refunds_with_totals(session, fw):
    bank = refunds_ready(session, fw, 3, method="bank_account", by_transfer=True)
    original = refunds_ready(session, fw, 2)
    batch = fin.batch_refund(session, select(Refund.id).where(Refund.state == RefundState.REQUESTED.value),
                             actor=fw.finance, now=NOW)
    assert sorted(batch.done) == sorted(bank + original)
    out = io.BytesIO()
    summary = write_bank_batch(session, out, batch=batch.batch, actor=fw.finance)
    assert (summary.rows, summary.total) == (3, Decimal("600.00"))
    frame = pd.read_excel(io.BytesIO(out.getvalue()), engine="calamine", dtype=str)
    body, totals = frame.iloc[:-1], frame.iloc[-1]
    assert list(body["收款人账号"]) == [BANK["bank_account"]] * 3  # 19 digits kept as text
    assert list(body["开户银行行号"]) == [BANK["bank_code"]] * 3
    assert sum(Decimal(v) for v in body["金额（元）"]) == Decimal(totals["金额（元）"]) == Decimal("600")
    assert totals["收款人名称"] == "合计" and set(body["退款编号"].astype(int)) == set(bank)
    names = dict(session.execute(select(Refund.id, Person.name).join(OrderLine, OrderLine.id == Refund.order_line_id)
                                 .join(Person, Person.id == OrderLine.person_id)).all())
    assert list(body["参观人员"]) == [names[i] for i in bank]


# --------------------------------------------------------------------------------------------------
# 5b. Co-payment given back
# --------------------------------------------------------------------------------------------------

def test_copayment_of_a_cancelled_or_review_failed_person_goes_back_to_the_budget(session, fw):
    org = make_organization(session, fw.subs["GZ"], state=OrgState.APPROVED)
    copaid = [make_person(session, org, state=state, copay=CopayDecision.CONFIRMED, copay_amount=Decimal("200")).id
              for state in (PersonState.CANCELLED, PersonState.REVIEW_FAILED, PersonState.PENDING_REVIEW)]
    sub = fw.subs["GZ"].id
    assert copay_used(session, [sub])[sub] == Decimal("600.00")
    given = fin.give_back_copayment(session, copaid, actor=fw.secretariat, reason="注销", now=NOW)
    assert given == copaid[:2]
    assert copay_used(session, [sub])[sub] == Decimal("200.00")
    entries = audit_entries(session, "person", action="person.copay_returned")
    assert [(e.object_id, e.params["copay_returned"]) for e in entries] == [(i, "200.00") for i in copaid[:2]]
    assert fin.give_back_copayment(session, copaid, actor=fw.secretariat) == []
    with pytest.raises(NotAllowed):
        fin.give_back_copayment(session, copaid, actor=fw.viewer)


def test_cancel_and_failed_review_give_the_copayment_back_at_once(session, fw):
    org = make_organization(session, fw.subs["GZ"], state=OrgState.APPROVED)
    cancelled, failed, staying = (make_person(session, org, state=PersonState.PENDING_REVIEW,
                                              copay=CopayDecision.CONFIRMED, copay_amount=Decimal("200")).id
                                  for _ in range(3))
    sub = fw.subs["GZ"].id
    assert registration.cancel_persons(session, [cancelled], actor=fw.admins["GZ"], reason="行程变更",
                                       now=NOW).done == [cancelled]
    assert registration.fail_review(session, [failed], actor=fw.secretariat, reason="背审未通过",
                                    now=NOW).done == [failed]
    assert copay_used(session, [sub])[sub] == Decimal("200.00")  # only the person who still comes
    entries = audit_entries(session, "person", action="person.copay_returned")
    assert [(e.object_id, e.actor_id, e.params) for e in entries] == [
        (cancelled, fw.admins["GZ"].id, {"reason": "行程变更", "copay_returned": "200.00"}),
        (failed, fw.secretariat.id, {"reason": "背审未通过", "copay_returned": "200.00"})]
    assert fin.give_back_copayment(session, [cancelled, failed, staying], actor=fw.secretariat) == []


# --------------------------------------------------------------------------------------------------
# The gateway: handler, endpoint
# --------------------------------------------------------------------------------------------------

def notification(order, reference="GW-1", method="qr_alipay", amount=None, **extra):
    body = {"order_number": order.number, "method": method, "amount": str(amount or order.total_amount),
            "reference": reference, "paid_at": "2025-10-01T10:00:00+08:00", **extra}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def test_gateway_handler_same_notification_twice_records_one_payment(session, fw):
    order, ids = ordered(session, fw)
    body = notification(order)
    first = handle_notification(session, body, sign(body, SECRET), secret=SECRET, actor=fw.finance)
    second = handle_notification(session, body, sign(body, SECRET), secret=SECRET, actor=fw.finance)
    assert first == second and first["ok"] is True and first["order_number"] == order.number
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert states(session, ids) == {PersonState.PENDING_REVIEW}
    paid_at = session.scalar(select(Payment.paid_at))
    assert paid_at.astimezone(timezone.utc).replace(tzinfo=None) == datetime(2025, 10, 1, 2, 0)


def test_gateway_handler_bad_signature_changes_nothing(session, fw):
    order, ids = ordered(session, fw)
    body = notification(order)
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    for signature in (None, "", sign(body, "other-secret"), sign(body + b" ", SECRET)):
        with pytest.raises(BadSignature):
            handle_notification(session, body, signature, secret=SECRET, actor=fw.finance)
    with pytest.raises(InvalidNotification):
        bad = b'{"order_number": "x"}'
        handle_notification(session, bad, sign(bad, SECRET), secret=SECRET, actor=fw.finance)
    assert session.scalar(select(func.count()).select_from(Payment)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert states(session, ids) == {PersonState.PENDING_PAYMENT}


@pytest.fixture
def gateway_app(database_url, engine, tmp_path):
    from admin_app import create_app
    from admin_app.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "RATELIMIT_ENABLED": False, "REPORTS_DIR": str(tmp_path), "UPLOADS_DIR": str(tmp_path / "up"),
                      "PAYMENT_GATEWAY_SECRET": SECRET, "WTF_CSRF_ENABLED": True})
    yield app  # create_app wires the notification endpoint and the finance commands
    with app.app_context():
        db.engine.dispose()


def test_notify_endpoint_records_once_refuses_bad_signatures(session, fw, gateway_app):
    order, ids = ordered(session, fw)
    gateway_app.config["PAYMENT_GATEWAY_USER"] = fw.finance.username
    session.commit()
    client = gateway_app.test_client()
    body = notification(order, reference="EP-1", method="b2b")
    headers = {"Content-Type": "application/json"}
    bad = client.post("/api/payments/notify", data=body, headers={**headers, "X-Signature": "0" * 64})
    assert bad.status_code == 401 and bad.json["ok"] is False
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Payment)) == 0
    good = [client.post("/api/payments/notify", data=body, headers={**headers, "X-Signature": sign(body, SECRET)})
            for _ in range(2)]
    assert [r.status_code for r in good] == [200, 200] and good[0].json == good[1].json
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert session.get(Order, order.id).state is OrderState.PAID
    wrong = notification(order, reference="EP-2", method="qr_wechat")
    refused = client.post("/api/payments/notify", data=wrong, headers={**headers, "X-Signature": sign(wrong, SECRET)})
    assert refused.status_code == 409 and "不能再收款" in refused.json["reason"]


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------

def test_cli_create_orders_and_expire_orders(session, fw, gateway_app):
    org, ids = waiting(session, fw, n=2)
    session.commit()
    runner = gateway_app.test_cli_runner()
    created = runner.invoke(args=["create-orders", "--as", fw.admins["GZ"].username, "--organization", str(org.id)])
    assert created.exit_code == 0, created.output
    assert "已生成订单 1 个（2 人）" in created.output
    again = runner.invoke(args=["create-orders", "--as", fw.admins["GZ"].username, "--persons",
                                ",".join(map(str, ids))])
    assert again.exit_code == 3 and again.output.count("skipped: 已在订单") == 2
    early = runner.invoke(args=["expire-orders", "--as", fw.finance.username, "--as-of", "2025-10-15"])
    assert early.exit_code == 0 and "已过期 0 个订单" in early.output
    late = runner.invoke(args=["expire-orders", "--as", fw.finance.username, "--as-of", "2025-10-16"])
    assert late.exit_code == 0 and "已过期 1 个订单" in late.output
    assert runner.invoke(args=["expire-orders", "--as", fw.finance.username]).output.endswith("已过期 0 个订单\n")
    refused = runner.invoke(args=["expire-orders", "--as", fw.admins["GZ"].username])
    assert refused.exit_code == 1 and "无权" in refused.output


def test_refunds_asked_for_by_person_are_told_per_person_and_keep_to_the_scope(session, fw):
    _, ids = paid(session, fw, "GZ", n=2)
    set_person_state(session, ids, PersonState.REVIEW_FAILED)
    _, unpaid = waiting(session, fw, "GZ", n=1)
    set_person_state(session, unpaid, PersonState.CANCELLED)
    _, elsewhere = paid(session, fw, "SZ", n=1)
    set_person_state(session, elsewhere, PersonState.REVIEW_FAILED)
    outcome = fin.request_refunds_of_persons(session, ids + unpaid + elsewhere, actor=fw.admins["GZ"],
                                             method="original_route", now=NOW)
    assert outcome.done == sorted(ids)
    assert "没有已支付的订单" in outcome.skipped[unpaid[0]]
    assert outcome.skipped[elsewhere[0]].code == "not_visible"  # another city's person: not even whether it paid
    assert session.scalar(select(func.count()).select_from(Refund)) == 2
