"""Issue 9, the finance back office as its users meet it: orders made from persons, vouchers uploaded and verified,
invoices requested and issued, refunds requested and paid out in a batch with its bank file; totals of the
filtered rows; each role's actions only; sub-delegation admins in their scope; viewers with masked accounts.
"""
from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select

from models import (Invoice, InvoiceState, Order, OrderLine, OrderState, Payment, Person, PersonState, Refund,
                    RefundState)
from models.enums import PaymentState
from test_documents import PDF, PNG, uploads  # noqa: F401  (fixture)
from test_finance import BANK, ordered, paid, set_person_state, submit, waiting
from test_finance import finance_world as dated_world


def finance_world(session):
    """The finance test world, its payment deadlines a month ahead of today (the pages act at today's time)."""
    world = dated_world(session)
    ahead = date.today() + timedelta(days=30)
    world.edition.transfer_deadline = world.edition.qr_deadline = world.edition.b2b_deadline = ahead
    session.flush()
    return world


def action(client, endpoint, name, ids, data=None, **kw):
    """POST an action's parameter page for the given ids; the response page (result or form again)."""
    url = f"/admin/{endpoint}/transition/{name}/?ids={','.join(str(i) for i in ids)}&url=/admin/{endpoint}/"
    return client.post(url, data=data or {}, **kw)


def test_a_sub_delegation_admin_puts_waiting_persons_on_an_order_from_the_person_list(session, client_for):
    world = finance_world(session)
    _, ids = waiting(session, world, "GZ", n=3)
    client = client_for(world.admins["GZ"])
    page = client.get("/admin/person/")
    assert "生成订单" in page.text
    result = action(client, "person", "create_orders", ids)
    assert result.status_code == 200 and "已完成 <strong>3</strong> 条" in result.text
    orders = session.scalars(select(Order)).all()
    assert len(orders) == 1 and orders[0].number.startswith("V") and orders[0].state == OrderState.UNPAID
    assert len(session.scalars(select(OrderLine).where(OrderLine.order_id == orders[0].id)).all()) == 3
    again = action(client, "person", "create_orders", ids)
    assert "未执行 <strong>3</strong> 条" in again.text  # a person is on one open order at most


def test_an_admin_cannot_order_another_sub_delegations_persons_by_a_forged_id(session, client_for):
    world = finance_world(session)
    _, ids = waiting(session, world, "GZ", n=1)
    result = action(client_for(world.admins["SZ"]), "person", "create_orders", ids)
    assert "已完成 <strong>0</strong> 条" in result.text
    assert session.scalars(select(Order)).all() == []


def test_a_transfer_voucher_is_uploaded_on_the_order_and_verified_by_finance(session, client_for, uploads):  # noqa: F811
    world = finance_world(session)
    order, person_ids = ordered(session, world, "GZ", n=2)
    admin = client_for(world.admins["GZ"])
    form = {"voucher": (io.BytesIO(PNG), "汇款凭证.png"), "amount": f"{order.total_amount}",
            "payer_kind": "organization", "payer_name": "广州某某贸易有限公司", "payer_bank": "工商银行天河支行",
            "payer_account": "3602000109000000001", "payer_phone": "020-88888888", "reference": ""}
    page = admin.get(f"/admin/badge_order/transition/submit_voucher/?ids={order.id}")
    assert 'enctype="multipart/form-data"' in page.text and "汇款凭证" in page.text
    result = action(admin, "badge_order", "submit_voucher", [order.id], data=form,
                    content_type="multipart/form-data")
    assert "已完成 <strong>1</strong> 条" in result.text
    payment = session.scalars(select(Payment).where(Payment.order_id == order.id)).one()
    assert payment.state == PaymentState.SUBMITTED and payment.voucher_file.startswith("voucher/")

    finance = client_for(world.finance)
    details = finance.get(f"/admin/payment/details/?id={payment.id}")
    assert f"/admin/payment/voucher/{payment.id}" in details.text and "<img" in details.text  # the preview
    assert finance.get(f"/admin/payment/voucher/{payment.id}").data == PNG
    assert client_for(world.admins["SZ"]).get(f"/admin/payment/voucher/{payment.id}").status_code == 404
    assert "核验通过" in finance.get("/admin/payment/").text
    verified = action(finance, "payment", "verify", [payment.id])
    assert "已完成 <strong>1</strong> 条" in verified.text
    session.expire_all()
    assert session.get(Order, order.id).state == OrderState.PAID
    assert {session.get(Person, i).state for i in person_ids} == {PersonState.PENDING_REVIEW}


def test_a_voucher_that_is_not_an_image_or_pdf_is_refused_under_its_field_and_nothing_is_kept(
        session, client_for, uploads):  # noqa: F811
    world = finance_world(session)
    order, _ = ordered(session, world, "GZ", n=1)
    form = {"voucher": (io.BytesIO(b"MZ not a voucher"), "voucher.exe"), "amount": f"{order.total_amount}",
            "payer_kind": "organization", "payer_name": "广州某某贸易有限公司"}
    page = action(client_for(world.admins["GZ"]), "badge_order", "submit_voucher", [order.id], data=form,
                  content_type="multipart/form-data")
    assert "汇款凭证须为" in page.text and 'class="invalid-feedback"' in page.text
    assert session.scalars(select(Payment)).all() == []
    assert not [p for p in uploads.rglob("*") if p.is_file()]


def test_a_wrong_amount_is_refused_with_the_difference_and_several_orders_at_once_are_refused(
        session, client_for, uploads):  # noqa: F811
    world = finance_world(session)
    order, _ = ordered(session, world, "GZ", n=1)
    other, _ = ordered(session, world, "GZ", n=1)
    admin = client_for(world.admins["GZ"])
    form = {"voucher": (io.BytesIO(PDF), "voucher.pdf"), "amount": "1.00", "payer_kind": "organization",
            "payer_name": "广州某某贸易有限公司"}
    page = action(admin, "badge_order", "submit_voucher", [order.id], data=form, content_type="multipart/form-data")
    assert "不符" in page.text and session.scalars(select(Payment)).all() == []
    both = admin.get(f"/admin/badge_order/transition/submit_voucher/?ids={order.id},{other.id}&url=/admin/badge_order/",
                     follow_redirects=True)
    assert "须逐条办理" in both.text


def test_finance_rejects_a_voucher_with_a_reason_and_the_order_can_be_paid_again(session, client_for):
    world = finance_world(session)
    order, _ = ordered(session, world, "GZ", n=1)
    submit(session, world, order)
    session.commit()
    payment = session.scalars(select(Payment)).one()
    result = action(client_for(world.finance), "payment", "reject", [payment.id], data={"reason": "凭证金额不清晰"})
    assert "已完成 <strong>1</strong> 条" in result.text
    session.expire_all()
    assert session.get(Payment, payment.id).state == PaymentState.REJECTED
    assert session.get(Order, order.id).state == OrderState.UNPAID


def test_lists_show_the_total_of_the_filtered_rows_and_filter_by_sub_delegation_and_amount(session, client_for):
    world = finance_world(session)
    gz, _ = ordered(session, world, "GZ", n=2)
    sz, _ = ordered(session, world, "SZ", n=1)
    session.commit()
    finance = client_for(world.finance)
    page = finance.get("/admin/badge_order/")
    assert "筛选结果合计" in page.text and f"¥{gz.total_amount + sz.total_amount:,.2f}" in page.text
    assert "广州" in page.text or world.subs["GZ"].name in page.text
    by_sub = finance.get(f"/admin/badge_order/?flt0_{sub_filter_key(page.text)}={world.subs['SZ'].id}")
    assert sz.number in by_sub.text and gz.number not in by_sub.text
    assert f"¥{sz.total_amount:,.2f}" in by_sub.text
    groups = filter_groups(page.text)
    at_least = next(i["arg"] for i in groups["订单金额（元）"] if i["operation"] == "大于")
    bigger = finance.get(f"/admin/badge_order/?flt0_{at_least}={sz.total_amount}")
    assert gz.number in bigger.text and sz.number not in bigger.text
    assert {"单位", "交易分团", "订单状态", "支付方式"} <= set(groups)
    gz_admin = client_for(world.admins["GZ"]).get("/admin/badge_order/")
    assert gz.number in gz_admin.text and sz.number not in gz_admin.text
    assert f"¥{gz.total_amount:,.2f}" in gz_admin.text


def filter_groups(html: str) -> dict:
    """The filter menu the list page hands its script: {name: [{arg, operation, options}, ...]}."""
    return json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S).group(1))


def sub_filter_key(html: str) -> str:
    """The URL key of the list's sub-delegation filter."""
    return filter_groups(html)["交易分团"][0]["arg"]


def test_invoices_are_requested_on_a_paid_order_and_issued_one_at_a_time_by_finance(session, client_for):
    world = finance_world(session)
    order, _ = paid(session, world, "GZ", n=1)
    session.commit()
    admin = client_for(world.admins["GZ"])
    form = {"kind": "electronic_normal", "title_kind": "organization", "title": "广州某某贸易有限公司",
            "tax_number": "91440101MA59TEST01", "email": "finance@example.cn"}
    result = action(admin, "badge_order", "request_invoice", [order.id], data=form)
    assert "已完成 <strong>1</strong> 条" in result.text, result.text[-1500:]
    invoice = session.scalars(select(Invoice)).one()
    assert "开具发票" not in client_for(world.admins["GZ"]).get("/admin/invoice/").text  # finance's action only
    finance = client_for(world.finance)
    issued = action(finance, "invoice", "issue", [invoice.id], data={"number": "04400012345678"})
    assert "已完成 <strong>1</strong> 条" in issued.text
    session.expire_all()
    assert session.get(Invoice, invoice.id).state == InvoiceState.ISSUED


def test_a_refund_is_requested_from_the_person_and_paid_out_in_a_batch_with_its_bank_file(session, client_for):
    world = finance_world(session)
    order, ids = paid(session, world, "GZ", n=2, method="qr_alipay")
    transfer_order, transfer_ids = paid(session, world, "GZ", n=1, method="qr_wechat")
    set_person_state(session, ids + transfer_ids, PersonState.REVIEW_FAILED)
    session.commit()
    admin = client_for(world.admins["GZ"])
    requested = action(admin, "person", "request_refund", ids, data={"method": "original_route", "reason": "审核不通过"})
    assert "已完成 <strong>2</strong> 条" in requested.text
    refunds = session.scalars(select(Refund).order_by(Refund.id)).all()
    assert [r.state for r in refunds] == [RefundState.REQUESTED] * 2
    assert "批量退款" not in admin.get("/admin/refund/").text  # finance's action only

    finance = client_for(world.finance)
    done = action(finance, "refund", "batch_refund", [r.id for r in refunds])
    assert "已完成 <strong>2</strong> 条" in done.text
    session.expire_all()
    assert {session.get(Refund, r.id).state for r in refunds} == {RefundState.REFUNDED}
    batch = session.get(Refund, refunds[0].id).batch
    again = action(finance, "refund", "batch_refund", [r.id for r in refunds])
    assert "已完成 <strong>0</strong> 条" in again.text  # nothing refunded twice
    assert f"{order.number} · " in again.text  # skipped refunds named by order and person, not by id
    file = finance.get(f"/admin/refund/bank-batch/{batch}.xlsx")
    assert file.status_code == 200
    sheet = pd.read_excel(io.BytesIO(file.data), dtype=str)
    assert list(sheet.columns)[:2] == ["收款人名称", "收款人账号"]  # original-route refunds are not in the bank file
    assert admin.get(f"/admin/refund/bank-batch/{batch}.xlsx").status_code == 404


def test_a_bank_account_refund_lands_in_the_bank_file_with_its_account_as_text(session, client_for):
    world = finance_world(session)
    order, ids = ordered(session, world, "GZ", n=1)
    submit(session, world, order)
    session.commit()
    from models.finance import operations as fin
    fin.verify_payments(session, select(Payment.id), actor=world.finance)
    set_person_state(session, ids, PersonState.CANCELLED)
    session.commit()
    admin = client_for(world.admins["GZ"])
    result = action(admin, "person", "request_refund", ids, data={"method": "bank_account", **BANK})
    assert "已完成 <strong>1</strong> 条" in result.text, result.text[-1500:]
    refund = session.scalars(select(Refund)).one()
    viewer = client_for(world.viewer).get("/admin/refund/")
    assert BANK["bank_account"] not in viewer.text and BANK["bank_account"][-4:] in viewer.text
    finance = client_for(world.finance)
    done = action(finance, "refund", "batch_refund", [refund.id])
    assert "下载银行批量付款文件" in done.text
    session.expire_all()
    link = re.search(r'href="(/admin/refund/bank-batch/[^"]+)"', done.text).group(1)
    sheet = pd.read_excel(io.BytesIO(finance.get(link).data), dtype=str)
    assert sheet.iloc[0]["收款人账号"] == BANK["bank_account"]
    assert float(sheet.iloc[-1]["金额（元）"]) == float(refund.amount)


def test_finance_lists_offer_no_create_or_edit_form_to_anyone(session, world, client_for, rows):
    for user in (world.secretariat, world.finance, world.admins["GZ"]):
        client = client_for(user)
        for endpoint in ("badge_order", "order_line", "payment", "invoice", "refund"):
            assert client.get(f"/admin/{endpoint}/new/").status_code in (302, 403, 404)
            page = client.get(f"/admin/{endpoint}/")
            assert page.status_code == 200 and "/edit/" not in page.text

