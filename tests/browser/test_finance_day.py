"""Finance's working day in a real browser, on the demo data: vouchers verified from their preview, an invoice issued,
refunds paid out in one batch; a sub-delegation admin's orders; a viewer's masked bank accounts."""
from __future__ import annotations

import re

from sqlalchemy import select

from models import Invoice, InvoiceState, Order, Payment, Refund, RefundMethod, RefundState
from models.enums import PaymentState
from test_workday import BULK_MENU, db_rows, sub_id


def test_finance_verifies_a_transfer_voucher_from_its_preview(tab, live_server):
    waiting = db_rows(live_server, select(Payment.id).where(Payment.state == PaymentState.SUBMITTED.value,
                                                            Payment.voucher_file.like("%.png"))
                      .order_by(Payment.id.desc()))
    assert waiting, "the demo data has PNG transfer vouchers waiting for finance"
    page = tab.login("finance", "/admin/payment/?flt0_0=submitted")
    assert "筛选结果合计" in page.inner_text("body")
    tab.screenshot("finance-1-vouchers-waiting")
    payment_id = waiting[0][0]
    tab.goto(f"/admin/payment/details/?id={payment_id}")
    preview = page.locator("img.dd-document-preview")
    assert preview.count() == 1 and preview.evaluate("img => img.naturalWidth") > 0
    tab.screenshot("finance-2-voucher-preview")
    page.locator(".dd-row-actions a", has_text="核验通过").click()
    page.wait_for_load_state("networkidle")
    page.locator("button[type=submit]", has_text="确认执行").click()
    page.wait_for_load_state("networkidle")
    tab.screenshot("finance-3-voucher-verified")
    assert re.search(r"已完成\s*1\s*条", page.inner_text("body"))
    state = db_rows(live_server, select(Payment.state).where(Payment.id == payment_id))[0][0]
    assert state == PaymentState.VERIFIED
    assert tab.csp_errors() == []


def test_finance_issues_a_requested_invoice(tab, live_server):
    requested = db_rows(live_server, select(Invoice.id).where(Invoice.state == InvoiceState.REQUESTED.value)
                        .order_by(Invoice.id))
    assert requested, "the demo data has invoices waiting to be issued"
    invoice_id = requested[0][0]
    page = tab.login("finance", f"/admin/invoice/transition/issue/?ids={invoice_id}&url=/admin/invoice/")
    page.fill("textarea[name=number]", "04400098765432")
    page.fill("textarea[name=courier_company]", "顺丰速运")
    page.fill("textarea[name=courier_number]", "SF1234567890")
    tab.screenshot("finance-4-issue-invoice")
    page.locator("button[type=submit]", has_text="确认执行").click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"已完成\s*1\s*条", page.inner_text("body")), page.inner_text("body")[:800]
    assert db_rows(live_server, select(Invoice.number).where(Invoice.id == invoice_id))[0][0] == "04400098765432"


def test_finance_pays_out_refunds_in_one_batch_and_downloads_the_bank_file(tab, live_server):
    waiting = db_rows(live_server, select(Refund.id).where(
        Refund.state.in_([RefundState.REQUESTED.value, RefundState.APPROVED.value])))
    assert waiting, "the demo data has refunds waiting for finance"
    page = tab.login("finance", "/admin/refund/")
    tab.screenshot("finance-5-refunds")
    page.locator("input.action-rowtoggle").check()  # every row of the page
    page.locator(BULK_MENU).click()
    page.locator(".dropdown-menu a", has_text="批量退款").first.click()
    page.wait_for_load_state("networkidle")
    page.locator("button[type=submit]", has_text="确认执行").click()
    page.wait_for_load_state("networkidle")
    tab.screenshot("finance-6-batch-refund-result")
    body = page.inner_text("body")
    assert re.search(r"已完成\s*\d+\s*条", body)
    if db_rows(live_server, select(Refund.id).where(Refund.method == RefundMethod.BANK_ACCOUNT.value,
                                                    Refund.state == RefundState.REFUNDED.value)):
        with page.expect_download() as download:
            page.locator("a.dd-download").first.click()
        assert download.value.suggested_filename.endswith(".xlsx")
    assert tab.csp_errors() == []


def test_a_sub_admin_sees_only_their_orders_and_a_viewer_sees_masked_accounts(tab, live_server):
    gz = sub_id(live_server, "guangzhou")
    own = {n for (n,) in db_rows(live_server, select(Order.number).where(Order.sub_delegation_id == gz))}
    others = {n for (n,) in db_rows(live_server, select(Order.number).where(Order.sub_delegation_id != gz))}
    page = tab.login("guangzhou", "/admin/badge_order/?page_size=200")
    tab.screenshot("finance-7-guangzhou-orders")
    body = page.inner_text("body")
    assert not [n for n in others if n in body]
    assert own and any(n in body for n in own)
    page.context.clear_cookies()
    page = tab.login("viewer", "/admin/refund/")
    tab.screenshot("finance-8-viewer-refunds")
    accounts = [a for (a,) in db_rows(live_server, select(Refund.bank_account).where(Refund.bank_account.is_not(None)))]
    body = page.inner_text("body")
    assert not [a for a in accounts if a in body]
    assert "操作" not in page.locator("table.model-list").inner_text()  # no actions for a viewer
