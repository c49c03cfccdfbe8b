"""Orders, order lines, payments, invoices and refunds. Money is append-only: balances are derived."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Numeric, String, Text, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at_column, updated_at_column
from models.columns import col, enum_col, fk
from models.delegation import ExpoEdition, SubDelegation, User
from models.enums import (InvoiceKind, InvoiceState, Label, OrderState, PartyKind, PaymentMethod, PaymentState,
                          RefundMethod, RefundState)
from models.registration import Organization, Person

ACTIVE_REFUNDS = "state IN ('requested', 'approved', 'refunded')"
GATEWAY = "method <> 'transfer'"
SETTLED = "state IN ('verified', 'recorded')"
# Seed 002 (非原路返回): 收款人名称、收款人账号、收款人开户银行、开户银行行号 — all four for a refund to a bank account.
BANK_DETAILS = ("method <> 'bank_account' OR (payee_name IS NOT NULL AND bank_account IS NOT NULL "
                "AND bank_name IS NOT NULL AND bank_code IS NOT NULL)")


class Order(Base):
    """A badge-fee order: number V + timestamp + sequence, one line per person."""

    __tablename__ = "badge_order"
    __label__ = ("订单", "Orders")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = col(String(32), "订单号", "Order no.", unique=True)
    edition_id: Mapped[int] = fk("expo_edition.id", "届次", "Edition")
    organization_id: Mapped[int] = fk("organization.id", "单位", "Organisation")
    sub_delegation_id: Mapped[int] = fk("sub_delegation.id", "交易分团", "Sub-delegation")
    state: Mapped[OrderState] = enum_col(OrderState, "order_state", "订单状态", "State", default=OrderState.UNPAID)
    payment_method: Mapped[PaymentMethod | None] = enum_col(PaymentMethod, "payment_method", "支付方式",
                                                            "Payment method", nullable=True)
    total_amount: Mapped[Decimal] = col(Numeric(12, 2), "订单金额（元）", "Total (CNY)", default=Decimal(0))
    paid_at: Mapped[datetime | None] = col(DateTime(timezone=True), "支付时间", "Paid at", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    edition: Mapped[ExpoEdition] = relationship(info={"label": ("届次", "Edition")})
    organization: Mapped[Organization] = relationship(info={"label": ("单位", "Organisation")})
    sub_delegation: Mapped[SubDelegation] = relationship(info={"label": ("交易分团", "Sub-delegation")})
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order")

    __table_args__ = (
        CheckConstraint("total_amount >= 0", name="total_non_negative"),
        Index("ix_badge_order_scope_state", "sub_delegation_id", "state"),
        Index("ix_badge_order_organization", "organization_id"),
    )

    def __str__(self) -> str:
        return self.number


class OrderLine(Base):
    """One person on an order, with the fee of their label (reuse at the edition's percentage)."""

    __tablename__ = "order_line"
    __label__ = ("订单明细", "Order lines")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order", ondelete="CASCADE")
    person_id: Mapped[int] = fk("person.id", "参观人员", "Person")
    label: Mapped[Label] = enum_col(Label, "person_label", "人员标签", "Label")
    is_reuse: Mapped[bool] = col(Boolean, "证件复用", "Badge reuse", default=False)
    fee: Mapped[Decimal] = col(Numeric(10, 2), "证件费（元）", "Fee (CNY)")
    # True while the order is unpaid, awaiting voucher review or paid; false once it is cancelled or expired.
    # The order transitions keep it in step, and the partial unique index below makes "a person is on at
    # most one open order" a rule of the database (a paid order stays open: nobody pays a badge twice).
    is_open: Mapped[bool] = col(Boolean, "订单有效", "Open", default=True, server_default=true())

    order: Mapped[Order] = relationship(back_populates="lines", info={"label": ("订单", "Order")})
    person: Mapped[Person] = relationship(info={"label": ("参观人员", "Person")})

    __table_args__ = (
        UniqueConstraint("order_id", "person_id", name="uq_order_line_person"),
        CheckConstraint("fee >= 0", name="fee_non_negative"),
        Index("ix_order_line_person", "person_id"),
        Index("uq_order_line_one_open_per_person", "person_id", unique=True,
              sqlite_where=text("is_open"), postgresql_where=text("is_open")),
    )

    def __str__(self) -> str:
        return f"#{self.id}"


class Payment(Base):
    """Money for an order, with its own state; never edited in amount: a rejected voucher stays, a new one is a new row.

    Gateway payments (QR, B2B) are `recorded` with the gateway's reference, unique per method, so the same
    notification twice records one payment. Bank transfers carry the voucher and the remitter's details,
    are `submitted`, and finance verifies or rejects them.
    """

    __tablename__ = "payment"
    __label__ = ("支付记录", "Payments")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order")
    method: Mapped[PaymentMethod] = enum_col(PaymentMethod, "payment_method", "支付方式", "Method")
    amount: Mapped[Decimal] = col(Numeric(12, 2), "金额（元）", "Amount (CNY)")
    reference: Mapped[str | None] = col(String(100), "交易流水号", "Reference", nullable=True)
    paid_at: Mapped[datetime] = col(DateTime(timezone=True), "支付时间", "Paid at")
    state: Mapped[PaymentState] = enum_col(PaymentState, "payment_state", "状态", "State",
                                           default=PaymentState.SUBMITTED)
    voucher_file: Mapped[str | None] = col(String(255), "汇款凭证", "Transfer voucher", nullable=True)
    # Seed 002 汇款信息填报: 单位/个人, 汇款单位, 支行名称, 联系电话, 汇款账号. An organisation remitter's name is
    # the invoice title (单位转账支付开发票时，单位信息将自动带出，与付款单位一致，不可调换); B2B payers too.
    payer_kind: Mapped[PartyKind | None] = enum_col(PartyKind, "party_kind", "汇款方", "Payer kind", nullable=True)
    payer_name: Mapped[str | None] = col(String(200), "汇款单位/个人", "Payer", nullable=True)
    payer_bank: Mapped[str | None] = col(String(100), "支行名称", "Payer's bank branch", nullable=True)
    payer_account: Mapped[str | None] = col(String(40), "汇款账号", "Payer's account", nullable=True,
                                            info={"sensitive": True})
    payer_phone: Mapped[str | None] = col(String(30), "联系电话", "Payer's phone", nullable=True)
    review_note: Mapped[str | None] = col(Text, "审核意见", "Review note", nullable=True)
    verified_by_id: Mapped[int | None] = fk("admin_user.id", "审核人", "Verified by", nullable=True)
    verified_at: Mapped[datetime | None] = col(DateTime(timezone=True), "审核时间", "Reviewed at", nullable=True)
    created_at = created_at_column()

    order: Mapped[Order] = relationship(info={"label": ("订单", "Order")})
    verified_by: Mapped[User | None] = relationship(info={"label": ("审核人", "Verified by")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("method = 'transfer' OR reference IS NOT NULL", name="gateway_has_reference"),
        CheckConstraint("(method = 'transfer' AND state <> 'recorded') OR (method <> 'transfer' AND state = 'recorded')",
                        name="recorded_means_gateway"),
        Index("ix_payment_order", "order_id"),
        Index("uq_payment_gateway_reference", "method", "reference", unique=True,
              sqlite_where=text(GATEWAY), postgresql_where=text(GATEWAY)),
        # One voucher under review per order, and one payment that settles it (amounts must match the order).
        Index("uq_payment_one_submitted_per_order", "order_id", unique=True,
              sqlite_where=text("state = 'submitted'"), postgresql_where=text("state = 'submitted'")),
        Index("uq_payment_one_settled_per_order", "order_id", unique=True,
              sqlite_where=text(SETTLED), postgresql_where=text(SETTLED)),
    )


class Invoice(Base):
    """An invoice for a paid order; at most one that is not voided. Fields as the seeds' invoice forms ask."""

    __tablename__ = "invoice"
    __label__ = ("发票", "Invoices")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order")
    kind: Mapped[InvoiceKind] = enum_col(InvoiceKind, "invoice_kind", "发票类型", "Kind")
    title_kind: Mapped[PartyKind] = enum_col(PartyKind, "party_kind", "抬头类型", "Title kind",
                                             default=PartyKind.ORGANIZATION)
    title: Mapped[str] = col(String(200), "发票抬头", "Title")
    tax_number: Mapped[str | None] = col(String(20), "纳税人识别号", "Tax number", nullable=True)
    mobile: Mapped[str | None] = col(String(20), "手机号", "Mobile", nullable=True, info={"sensitive": True})
    email: Mapped[str | None] = col(String(120), "邮箱", "E-mail", nullable=True)
    address: Mapped[str | None] = col(String(300), "单位地址", "Address", nullable=True)
    phone: Mapped[str | None] = col(String(30), "单位电话", "Phone", nullable=True)
    bank_name: Mapped[str | None] = col(String(100), "开户行", "Bank", nullable=True)
    bank_account: Mapped[str | None] = col(String(40), "银行账户", "Bank account", nullable=True,
                                           info={"sensitive": True})
    note: Mapped[str | None] = col(Text, "备注", "Note", nullable=True)
    amount: Mapped[Decimal] = col(Numeric(12, 2), "金额（元）", "Amount (CNY)")
    number: Mapped[str | None] = col(String(40), "发票号码", "Invoice no.", nullable=True)
    state: Mapped[InvoiceState] = enum_col(InvoiceState, "invoice_state", "状态", "State",
                                           default=InvoiceState.REQUESTED)
    issued_at: Mapped[datetime | None] = col(DateTime(timezone=True), "开票时间", "Issued at", nullable=True)
    # Paper special invoices are mailed by finance (由财务审核开票后寄出; 查看物流).
    courier_company: Mapped[str | None] = col(String(50), "快递公司", "Courier", nullable=True)
    courier_number: Mapped[str | None] = col(String(50), "快递单号", "Courier no.", nullable=True)
    void_reason: Mapped[str | None] = col(Text, "退票原因", "Void reason", nullable=True)
    voided_at: Mapped[datetime | None] = col(DateTime(timezone=True), "退票时间", "Voided at", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    order: Mapped[Order] = relationship(info={"label": ("订单", "Order")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("uq_invoice_one_valid_per_order", "order_id", unique=True,
              sqlite_where=text("state <> 'voided'"), postgresql_where=text("state <> 'voided'")),
        Index("uq_invoice_number", "number", unique=True),
    )


class Refund(Base):
    """A refund of one paid order line; at most one active refund per line, never more than was paid."""

    __tablename__ = "refund"
    __label__ = ("退款", "Refunds")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order")
    order_line_id: Mapped[int] = fk("order_line.id", "订单明细", "Order line")
    amount: Mapped[Decimal] = col(Numeric(10, 2), "退款金额（元）", "Amount (CNY)")
    # The line's paid fee, copied so that the database itself holds "refund <= paid".
    paid_amount: Mapped[Decimal] = col(Numeric(10, 2), "已付金额（元）", "Paid (CNY)")
    method: Mapped[RefundMethod] = enum_col(RefundMethod, "refund_method", "退款方式", "Method")
    payee_name: Mapped[str | None] = col(String(100), "收款人", "Payee", nullable=True)
    bank_account: Mapped[str | None] = col(String(40), "银行账号", "Account", nullable=True,
                                           info={"sensitive": True})
    bank_name: Mapped[str | None] = col(String(100), "开户银行", "Bank", nullable=True)
    bank_code: Mapped[str | None] = col(String(20), "联行号", "Bank code", nullable=True)
    reason: Mapped[str | None] = col(Text, "退款原因", "Reason", nullable=True)
    review_note: Mapped[str | None] = col(Text, "审核意见", "Review note", nullable=True)
    state: Mapped[RefundState] = enum_col(RefundState, "refund_state", "状态", "State",
                                          default=RefundState.REQUESTED)
    batch: Mapped[str | None] = col(String(40), "退款批次", "Batch", nullable=True)
    refunded_at: Mapped[datetime | None] = col(DateTime(timezone=True), "退款时间", "Refunded at", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    order: Mapped[Order] = relationship(info={"label": ("订单", "Order")})
    order_line: Mapped[OrderLine] = relationship(info={"label": ("订单明细", "Order line")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount <= paid_amount", name="not_more_than_paid"),
        CheckConstraint(BANK_DETAILS, name="bank_account_details"),
        Index("uq_refund_one_active_per_line", "order_line_id", unique=True,
              sqlite_where=text(ACTIVE_REFUNDS), postgresql_where=text(ACTIVE_REFUNDS)),
        Index("ix_refund_order", "order_id"),
    )
