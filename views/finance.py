"""The finance back office: orders, order lines, payments, invoices and refunds, and the money verbs on persons.

Every list is read-only as a form (money is never an edited amount); what changes it are the actions of
the finance workflows (models/finance/workflow.py) and the finance verbs (models/finance/operations.py),
each offered only to the roles the domain allows. Each list shows the total of its filtered rows.
"""
from __future__ import annotations

import io
from decimal import Decimal

from flask import abort, send_file
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from models import Invoice, Order, OrderLine, Payment, Person, PersonState, Refund, Role
from models.engine import Param
from models.enums import InvoiceKind, OrderState, PartyKind, RefundMethod
from models.finance import operations as finance
from models.finance.common import Outcome
from models.finance.workflow import (ADMINS, FINANCE, INVOICE_WORKFLOW, ORDER_WORKFLOW, PAYMENT_WORKFLOW,
                                     REFUND_WORKFLOW, REQUESTERS, VOUCHER_PARAMS)
from models.ids import id_in
from reports.finance import write_bank_batch
from views.base import ScopedModelView
from views.documents import DocumentsMixin
from views.finance_filters import money_filters, names_figure
from views.i18n import pick, tr
from views.transitions import WorkflowActionsMixin, verb


def yuan(amount) -> str:
    """¥4,000.00."""
    return f"¥{Decimal(str(amount or 0)):,.2f}"


class MoneyList(ScopedModelView):
    """A finance list: nobody edits its rows by form; the total of the filtered rows shows above them."""

    write_roles = frozenset()
    column_default_sort = ("id", True)
    exact_count = True  # the page shows the total of the filtered rows: it adds them all up anyway
    amount_column = "amount"
    amount_label = ("金额（元）", "Amount (CNY)")

    def __init__(self, model, session, **kwargs):
        self.extra_filters = money_filters(model, getattr(model, self.amount_column), self.amount_label)
        super().__init__(model, session, **kwargs)

    def relation_and_date_filters(self, model) -> list:
        """Date filters only: the sub-delegation is chosen from a list (views/finance_filters.py)."""
        return [f for f in super().relation_and_date_filters(model) if f != "sub_delegation.name"]

    def list_figures(self) -> dict:
        return {"total": func.coalesce(func.sum(getattr(self.model, self.amount_column)), 0),
                "sub_delegations": names_figure(self.db_session.get_bind().dialect.name)}

    def figures_line(self, figures) -> Markup:
        """「筛选结果合计：订单金额 ¥12,000.00」 for the rows the filters and search match, in scope."""
        return Markup('<div class="dd-figures"><span class="text-muted mr-2">{}</span>{} <strong>{}</strong></div>'
                      ).format(pick(("筛选结果合计：", "Total of the matching rows:")), pick(self.amount_label),
                               yuan(figures.get("total")))


class MoneyWorkflowList(DocumentsMixin, WorkflowActionsMixin, MoneyList):
    """A finance list whose rows move through a workflow; the details page shows its action buttons."""

    def row_name(self, row) -> str:
        return str(getattr(row, self.workflow.name_column) or row.id)


# --------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------

def _submit_voucher(session, target, *, actor, params):
    (order_id,) = target
    return finance.submit_voucher(session, order_id, actor=actor, **params)


INVOICE_PARAMS = (
    Param("kind", ("发票类型", "Invoice kind"), kind="choice", choices=InvoiceKind.labelled()),
    Param("title_kind", ("抬头类型", "Title kind"), kind="choice", choices=PartyKind.labelled()),
    Param("title", ("发票抬头（B2B和单位转账支付的订单自动带出付款单位）", "Title (B2B and organisation transfers: the payer)"),
          required=False, max_length=200),
    Param("tax_number", ("纳税人识别号", "Tax number"), required=False, max_length=20),
    Param("mobile", ("手机号", "Mobile"), required=False, max_length=20),
    Param("email", ("邮箱", "E-mail"), required=False, max_length=120),
    Param("address", ("单位地址", "Address"), required=False, max_length=300),
    Param("phone", ("单位电话", "Phone"), required=False, max_length=30),
    Param("bank_name", ("开户行", "Bank"), required=False, max_length=100),
    Param("bank_account", ("银行账户", "Bank account"), required=False, max_length=40),
    Param("note", ("备注", "Note"), required=False),
)


def _request_invoice(session, target, *, actor, params):
    (order_id,) = target
    finance.request_invoice(session, order_id, actor=actor, **params)
    return Outcome(done=[order_id])


class OrderView(MoneyWorkflowList):
    workflow = ORDER_WORKFLOW
    object_type = "order"
    hidden_transitions = ("pay", "voucher_rejected")  # fired by payments: a verified voucher, a rejected one
    verbs = {
        "submit_voucher": verb("submit_voucher", ("上传汇款凭证", "Submit transfer voucher"), {OrderState.UNPAID},
                               REQUESTERS, _submit_voucher, params=VOUCHER_PARAMS, single=True),
        "request_invoice": verb("request_invoice", ("申请开票", "Request invoice"), {OrderState.PAID}, REQUESTERS,
                                _request_invoice, params=INVOICE_PARAMS, single=True),
    }
    amount_column = "total_amount"
    amount_label = ("订单金额（元）", "Order total (CNY)")
    column_list = ("number", "organization", "sub_delegation", "state", "payment_method", "total_amount",
                   "created_at", "paid_at")
    search_exact = ("number",)
    enum_filters = ("state", "payment_method")
    related_key = "order_id"
    related_rows = ((OrderLine, ("person", "label", "is_reuse", "fee", "is_open")),
                    (Payment, ("method", "amount", "state", "reference", "payer_name", "paid_at")),
                    (Invoice, ("kind", "title", "amount", "state", "number")),
                    (Refund, ("order_line", "amount", "method", "state", "batch")))

    def list_options(self):
        return (joinedload(Order.organization), joinedload(Order.sub_delegation))


class OrderLineView(MoneyList):
    amount_column = "fee"
    amount_label = ("证件费（元）", "Fee (CNY)")
    column_list = ("order", "person", "label", "is_reuse", "fee", "is_open")
    enum_filters = ("label",)

    def list_options(self):
        return (joinedload(OrderLine.order), joinedload(OrderLine.person))


# --------------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------------

class PaymentView(MoneyWorkflowList):
    workflow = PAYMENT_WORKFLOW
    object_type = "payment"
    documents = {"voucher": "voucher_file"}  # previewed on the details page, served in scope
    column_list = ("order", "order.organization", "method", "amount", "state", "payer_name", "reference",
                   "paid_at", "verified_by")
    column_labels = {"order.organization": tr(("单位", "Organisation"))}
    column_details_list = ("order", "order.organization", "method", "amount", "state", "voucher_file", "payer_kind",
                           "payer_name", "payer_bank", "payer_account", "payer_phone", "reference", "paid_at",
                           "review_note", "verified_by", "verified_at", "created_at")
    search_exact = ("reference",)
    enum_filters = ("state", "method")

    def list_options(self):
        return (joinedload(Payment.order).joinedload(Order.organization), joinedload(Payment.verified_by))

    def row_name(self, row) -> str:
        return row.reference or f"{row.order.number} · {yuan(row.amount)}"

    def _names(self, ids, session=None):
        """Skipped payments on a result page named by order number and amount, read in one statement."""
        if not ids:
            return {}
        rows = (session or self.db_session).execute(select(Payment.id, Order.number, Payment.amount).join(
            Order, Order.id == Payment.order_id).where(id_in(Payment.id, ids), self._visible_predicate()))
        return {payment_id: f"{number} · {yuan(amount)}" for payment_id, number, amount in rows}


# --------------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------------

def _issue_invoice(session, target, *, actor, params):
    return finance.issue_invoices(session, target, actor=actor, **params)


class InvoiceView(MoneyWorkflowList):
    workflow = INVOICE_WORKFLOW
    object_type = "invoice"
    verbs = {"issue": verb("issue", INVOICE_WORKFLOW.label("issue"), INVOICE_WORKFLOW.variants("issue")[0].sources,
                           FINANCE, _issue_invoice, params=INVOICE_WORKFLOW.variants("issue")[0].params, single=True)}
    column_list = ("order", "kind", "title", "amount", "state", "number", "issued_at", "courier_number")
    search_prefix = ("title",)
    search_exact = ("number",)
    enum_filters = ("state", "kind")

    def list_options(self):
        return (joinedload(Invoice.order),)


# --------------------------------------------------------------------------------------------------
# Refunds
# --------------------------------------------------------------------------------------------------

def _batch_refund(session, target, *, actor, params):
    return finance.batch_refund(session, target, actor=actor)


def person_of_line(line) -> str:
    return line.person.name if line is not None and line.person is not None else ""


class RefundView(MoneyWorkflowList):
    workflow = REFUND_WORKFLOW
    object_type = "refund"
    verbs = {"batch_refund": verb(
        "batch_refund", ("批量退款", "Batch refund"), REFUND_WORKFLOW.variants("approve")[0].sources
        | REFUND_WORKFLOW.variants("mark_refunded")[0].sources, FINANCE, _batch_refund,
        confirmation="所选退款将一次性批准并标记为已退款；退至银行账户的生成银行批量付款文件。确定继续吗？")}
    column_list = ("order", "order_line", "amount", "method", "payee_name", "bank_account", "state", "batch",
                   "refunded_at")
    column_labels = {"order_line": tr(("参观人员", "Person"))}
    search_exact = ("batch",)
    enum_filters = ("state", "method")
    column_formatters = {"order_line": lambda v, c, m, n: person_of_line(m.order_line),
                         "batch": lambda v, c, m, n: v.batch_link(m.batch)}

    def list_options(self):
        return (joinedload(Refund.order), joinedload(Refund.order_line).joinedload(OrderLine.person))

    def row_name(self, row) -> str:
        return f"{row.order.number} · {person_of_line(row.order_line)}"

    def _names(self, ids, session=None):
        """Skipped refunds on a result page named by order number and person, read in one statement."""
        if not ids:
            return {}
        rows = (session or self.db_session).execute(
            select(Refund.id, Order.number, Person.name).join(Order, Order.id == Refund.order_id)
            .join(OrderLine, OrderLine.id == Refund.order_line_id).join(Person, Person.id == OrderLine.person_id)
            .where(id_in(Refund.id, ids), self._visible_predicate()))
        return {refund_id: f"{number} · {name}" for refund_id, number, name in rows}

    def batch_link(self, batch: str | None):
        """A batch number, linked to its bank file for finance (who sends it to the bank)."""
        if not batch:
            return ""
        if current_user.role != Role.FINANCE:
            return batch
        return Markup('<a href="{}" title="{}">{}</a>').format(
            self.get_url(".bank_batch", batch=batch), pick(("下载银行批量付款文件", "Download the bank batch file")), batch)

    def result_downloads(self, name, result) -> list[tuple[str, str]]:
        """After a batch refund: its bank batch file (refunds to bank accounts)."""
        if name != "batch_refund" or not result.done:
            return []
        return [(pick(("下载银行批量付款文件（Excel）", "Download the bank batch file (xlsx)")),
                 self.get_url(".bank_batch", batch=result.batch))]

    @expose("/bank-batch/<batch>.xlsx")
    def bank_batch(self, batch):
        """The bank batch file of one refund batch, written from the database; finance only, in scope."""
        if current_user.role != Role.FINANCE or not batch.isalnum() or len(batch) > 40:
            abort(404)
        buffer = io.BytesIO()
        write_bank_batch(self.db_session, buffer, batch=batch, actor=current_user)
        buffer.seek(0)
        return send_file(buffer, as_attachment=True, download_name=f"银行批量付款_{batch}.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --------------------------------------------------------------------------------------------------
# The money verbs on persons: put them on orders, ask for their refunds
# --------------------------------------------------------------------------------------------------

REFUND_PARAMS = (
    Param("method", ("退款方式", "Refund method"), kind="choice", choices=RefundMethod.labelled()),
    Param("payee_name", ("收款人名称（退至银行账户时必填）", "Payee (for a bank account)"), required=False, max_length=100),
    Param("bank_account", ("收款人账号", "Payee's account"), required=False, max_length=40),
    Param("bank_name", ("收款人开户银行", "Payee's bank"), required=False, max_length=100),
    Param("bank_code", ("开户银行行号", "Bank code"), required=False, max_length=20),
    Param("reason", ("退款原因", "Reason"), required=False),
)


def _create_orders(session, target, *, actor, params):
    return finance.create_orders(session, target, actor=actor)


def _request_refunds_of_persons(session, target, *, actor, params):
    return finance.request_refunds_of_persons(session, target, actor=actor, **params)


PERSON_MONEY_VERBS = {
    "create_orders": verb("create_orders", ("生成订单", "Create orders"), {PersonState.PENDING_PAYMENT}, ADMINS,
                          _create_orders),
    "request_refund": verb("request_refund", ("申请退款", "Request refund"),
                           {PersonState.REVIEW_FAILED, PersonState.CANCELLED}, REQUESTERS, _request_refunds_of_persons,
                           params=REFUND_PARAMS),
}
