"""Requesting an invoice for a paid order: the seeds' fields, the fixed title, one valid invoice per order.

Seeds 002/004: 增值税普通发票（电子发票） or 增值税专用发票（纸质发票）; 发票抬头、税号、手机号、邮箱、单位地址、
单位电话、开户行、银行账户、备注; B2B网上支付或单位转账支付开发票时，单位信息将自动带出，与付款单位一致，不可调换;
每个订单仅限开具一张发票.
"""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.enums import InvoiceKind, PartyKind, PaymentMethod
from models.errors import GuardFailed, InvalidParameter
from models.finance.balances import SETTLED_STATES
from models.finance.tables import Invoice, Payment

TAX_NUMBER = re.compile(r"^[0-9A-Z]{15,20}$")
FIELDS = {"title": ("发票抬头", 200), "tax_number": ("税号", 20), "mobile": ("手机号", 20), "email": ("邮箱", 120),
          "address": ("单位地址", 300), "phone": ("单位电话", 30), "bank_name": ("开户行", 100),
          "bank_account": ("银行账户", 40), "note": ("备注", 500)}
# A special (VAT) invoice carries the buyer's full details; tax offices refuse it otherwise.
SPECIAL_REQUIRES = ("tax_number", "address", "phone", "bank_name", "bank_account")


def clean_fields(values: dict) -> dict:
    """The invoice fields trimmed, empty ones None, each within its length; InvalidParameter names the field."""
    clean = {}
    for key, (label, length) in FIELDS.items():
        value = values.get(key)
        value = str(value).strip() if value is not None else None
        if value and len(value) > length:
            raise InvalidParameter(f"「{label}」不能超过 {length} 个字", field=key)
        clean[key] = value or None
    if clean["tax_number"]:
        clean["tax_number"] = clean["tax_number"].upper()
    return clean


def fixed_title(session: Session, order_id: int) -> str | None:
    """The paying organisation's name when the order was paid by B2B or by an organisation's transfer, else None."""
    payment = session.execute(select(Payment.method, Payment.payer_kind, Payment.payer_name)
                              .where(Payment.order_id == order_id, Payment.state.in_(SETTLED_STATES))
                              .order_by(Payment.id.desc()).limit(1)).first()
    if payment is None or not payment.payer_name:
        return None
    if payment.method == PaymentMethod.B2B.value or (
            payment.method == PaymentMethod.TRANSFER.value and payment.payer_kind == PartyKind.ORGANIZATION.value):
        return payment.payer_name
    return None


def check_fields(kind: InvoiceKind, title_kind: PartyKind, fields: dict) -> None:
    """The fields each kind of invoice needs, or InvalidParameter naming the first one missing or wrong."""
    if not fields["title"]:
        raise InvalidParameter("请填写「发票抬头」", field="title")
    if kind is InvoiceKind.PAPER_SPECIAL and title_kind is not PartyKind.ORGANIZATION:
        raise InvalidParameter("专用发票只能开给单位", field="title_kind")
    needed = SPECIAL_REQUIRES if kind is InvoiceKind.PAPER_SPECIAL else (
        ("tax_number",) if title_kind is PartyKind.ORGANIZATION else ())
    for key in needed:
        if not fields[key]:
            raise InvalidParameter(f"{kind.zh}须填写「{FIELDS[key][0]}」", field=key)
    if fields["tax_number"] and not TAX_NUMBER.match(fields["tax_number"]):
        raise InvalidParameter("「税号」应为 15 到 20 位数字或大写字母（税号或统一社会信用代码）", field="tax_number")


def settle_title(session: Session, order_id: int, title_kind: PartyKind, fields: dict) -> PartyKind:
    """Fill in (or hold to) the paying organisation's name as title; the title kind that results."""
    fixed = fixed_title(session, order_id)
    if fixed is None:
        return title_kind
    if fields["title"] and fields["title"] != fixed:
        raise InvalidParameter(f"B2B网关支付或单位转账支付的订单，发票抬头须与付款单位一致（{fixed}），不可更改",
                               field="title")
    fields["title"] = fixed
    return PartyKind.ORGANIZATION


def refuse_unless_invoiceable(money: dict, has_invoice: bool, has_refund: bool) -> Decimal:
    """The amount to invoice (what the delegation holds for the order), or GuardFailed saying why not."""
    if has_invoice:
        raise GuardFailed("该订单已有有效发票（每个订单仅限开具一张发票）；如需重开，请先作废（退票）")
    if has_refund:
        raise GuardFailed("该订单有退款正在办理，办结后再申请开票")
    if money["balance"] <= 0:
        raise GuardFailed("该订单已全部退款，无可开票金额")
    return money["balance"]


def new_invoice(order_id: int, kind: InvoiceKind, title_kind: PartyKind, fields: dict, amount: Decimal) -> Invoice:
    return Invoice(order_id=order_id, kind=kind, title_kind=title_kind, amount=amount, **fields)
