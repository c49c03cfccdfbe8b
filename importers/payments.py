"""Payment statements (QR and B2B gateways): 订单号, 支付方式, 金额, 交易流水号, 支付时间 — recorded once each.

Every row goes through models.finance.operations.record_gateway_payment, which records a payment once per
(method, reference): importing the same statement again records nothing new. An amount other than what
the order asks, an unknown order, or an order that can no longer be paid is an error for that row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from importers.base import Context, Importer
from importers.columns import CODE, DATETIME, NUMBER, TEXT, Column, SheetSpec
from importers.values import EnumWords, a_datetime, amount, bounded_text, required
from models.enums import PaymentMethod, Role
from models.errors import DomainError
from models.finance.fees import GATEWAY_METHODS
from models.finance.operations import record_gateway_payment
from models.finance.tables import Payment
from models.jsonrows import text_in

METHOD = EnumWords(PaymentMethod, {"支付宝": PaymentMethod.QR_ALIPAY, "微信": PaymentMethod.QR_WECHAT,
                                   "微信支付": PaymentMethod.QR_WECHAT, "银联": PaymentMethod.QR_UNIONPAY,
                                   "Alipay": PaymentMethod.QR_ALIPAY, "WeChat": PaymentMethod.QR_WECHAT,
                                   "WeChat Pay": PaymentMethod.QR_WECHAT, "UnionPay": PaymentMethod.QR_UNIONPAY,
                                   "B2B": PaymentMethod.B2B, "网银": PaymentMethod.B2B},
                   only=tuple(m for m in PaymentMethod if m in GATEWAY_METHODS))
# What a gateway refusal is about, by the words of models/finance/payments.py, as a problem kind.
REFUSAL_KINDS = (("金额", "amount"), ("订单不存在", "not_found"), ("订单状态", "state"), ("其他订单", "duplicate_db"))

SHEET = SheetSpec("支付对账单", "Payment statement", (
    Column("order_number", "订单号", "Order number", CODE, aliases=("订单编号", "Order"), sample="V20251001120000001",
           width=24),
    Column("method", "支付方式", "Method", TEXT, aliases=("Payment method",), choices=METHOD.labels,
           sample=PaymentMethod.QR_ALIPAY.zh, width=20),
    Column("amount", "金额", "Amount", NUMBER, aliases=("支付金额", "金额（元）"), sample="200", width=12),
    Column("reference", "交易流水号", "Reference", CODE, aliases=("流水号", "交易号", "Transaction reference"),
           sample="2025100122001400000000000001", width=32),
    Column("paid_at", "支付时间", "Paid at", DATETIME, aliases=("交易时间", "Payment time"),
           sample="2025-10-01 12:00:00", width=20),
    Column("payer_name", "付款方", "Payer", TEXT, required=False, aliases=("付款人", "付款单位"), width=24),
))


@dataclass
class Statement:
    row: object
    order_number: str
    method: PaymentMethod
    amount: Decimal
    reference: str
    paid_at: datetime
    payer_name: str | None


class PaymentsImporter(Importer):
    kind = "payments"
    title = ("支付对账单", "Payment statements")
    description = ("导入扫码支付和B2B网关支付的对账单：每笔按支付方式和交易流水号只记录一次，重复导入不会重复记账；金额与订单不符的行为错误。",
                   "QR and B2B gateway statements: each payment recorded once per method and reference, so importing "
                   "a statement again records nothing new; an amount that does not match the order is an error.")
    roles = frozenset({Role.FINANCE})
    sheets = (SHEET,)

    def validate(self, ctx: Context) -> list[Statement]:
        plan, seen = [], {}
        for sheet, row in ctx.rows(SHEET, ("校验对账单", "Checking the statement")):
            before = len(ctx.problems)
            order_number = ctx.value(sheet, row, "order_number", lambda t: bounded_text(required(t), 40))
            method = ctx.value(sheet, row, "method", lambda t: METHOD(required(t)))
            paid = ctx.value(sheet, row, "amount", lambda t: amount(required(t)))
            reference = ctx.value(sheet, row, "reference", lambda t: bounded_text(required(t), 100))
            paid_at = ctx.value(sheet, row, "paid_at", lambda t: a_datetime(required(t)))
            payer = ctx.value(sheet, row, "payer_name", lambda t: bounded_text(t, 200) or None)
            if ctx.failed(row, before):
                continue
            key = (method, reference)
            if key in seen:
                ctx.add(sheet, row, "reference", "duplicate_file", f"交易流水号与第 {seen[key]} 行重复",
                        f"The reference repeats row {seen[key]}")
                continue
            seen[key] = row.number
            plan.append(Statement(row, order_number, method, paid, reference, paid_at, payer))
        return plan

    def apply(self, ctx: Context, plan: list[Statement]):
        sheet = ctx.sheet(SHEET)
        recorded_before = set(ctx.session.execute(select(Payment.method, Payment.reference).where(
            text_in(Payment.reference, {s.reference for s in plan}))).all())
        new = again = 0
        ctx.progress.stage(("记录支付", "Recording payments"), len(plan))
        for item in plan:
            try:
                outcome = record_gateway_payment(ctx.session, actor=ctx.actor, order_number=item.order_number,
                                                 method=item.method.value, amount=item.amount,
                                                 reference=item.reference, paid_at=item.paid_at,
                                                 payer_name=item.payer_name, now=ctx.now)
            except DomainError as exc:
                ctx.refuse(sheet, item.row, "order_number", exc)
                continue
            finally:
                ctx.progress.advance()
            if not outcome.ok:
                kind = next((k for words, k in REFUSAL_KINDS if words in outcome.reason), "refused")
                ctx.add(sheet, item.row, "amount" if kind == "amount" else "order_number", kind, outcome.reason,
                        outcome.reason)
            elif (item.method, item.reference) in recorded_before:
                again += 1
            else:
                new += 1
        return [(("新记录支付", "Payments recorded"), new), (("已记录过（未重复记账）", "Recorded before (not again)"), again)]
