"""Orders, order lines, payments, invoices and refunds. Money is append-only: balances are derived."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at_column, updated_at_column
from models.columns import col, enum_col, fk
from models.delegation import ExpoEdition, SubDelegation, User
from models.enums import (InvoiceKind, InvoiceState, Label, OrderState, PaymentMethod, RefundMethod,
                          RefundState)
from models.registration import Organization, Person

ACTIVE_REFUNDS = "state IN ('requested', 'approved', 'refunded')"


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
    voucher_file: Mapped[str | None] = col(String(255), "汇款凭证", "Transfer voucher", nullable=True)
    voucher_note: Mapped[str | None] = col(Text, "凭证审核意见", "Voucher review note", nullable=True)
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

    order: Mapped[Order] = relationship(back_populates="lines", info={"label": ("订单", "Order")})
    person: Mapped[Person] = relationship(info={"label": ("参观人员", "Person")})

    __table_args__ = (
        UniqueConstraint("order_id", "person_id", name="uq_order_line_person"),
        CheckConstraint("fee >= 0", name="fee_non_negative"),
        Index("ix_order_line_person", "person_id"),
    )

    def __str__(self) -> str:
        return f"#{self.id}"


class Payment(Base):
    """Money received for an order; never edited, corrections are new rows."""

    __tablename__ = "payment"
    __label__ = ("支付记录", "Payments")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order")
    method: Mapped[PaymentMethod] = enum_col(PaymentMethod, "payment_method", "支付方式", "Method")
    amount: Mapped[Decimal] = col(Numeric(12, 2), "金额（元）", "Amount (CNY)")
    reference: Mapped[str | None] = col(String(100), "交易流水号", "Reference", nullable=True)
    paid_at: Mapped[datetime] = col(DateTime(timezone=True), "支付时间", "Paid at")
    verified_by_id: Mapped[int | None] = fk("admin_user.id", "审核人", "Verified by", nullable=True)
    created_at = created_at_column()

    order: Mapped[Order] = relationship(info={"label": ("订单", "Order")})
    verified_by: Mapped[User | None] = relationship(info={"label": ("审核人", "Verified by")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_order", "order_id"),
    )


class Invoice(Base):
    """An invoice for an order; at most one that is not voided."""

    __tablename__ = "invoice"
    __label__ = ("发票", "Invoices")
    __scope_parent__ = ("order_id", "Order")

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = fk("badge_order.id", "订单", "Order")
    kind: Mapped[InvoiceKind] = enum_col(InvoiceKind, "invoice_kind", "发票类型", "Kind")
    title: Mapped[str] = col(String(200), "发票抬头", "Title")
    tax_number: Mapped[str | None] = col(String(20), "纳税人识别号", "Tax number", nullable=True)
    amount: Mapped[Decimal] = col(Numeric(12, 2), "金额（元）", "Amount (CNY)")
    number: Mapped[str | None] = col(String(40), "发票号码", "Invoice no.", nullable=True)
    state: Mapped[InvoiceState] = enum_col(InvoiceState, "invoice_state", "状态", "State",
                                           default=InvoiceState.REQUESTED)
    issued_at: Mapped[datetime | None] = col(DateTime(timezone=True), "开票时间", "Issued at", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    order: Mapped[Order] = relationship(info={"label": ("订单", "Order")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("uq_invoice_one_valid_per_order", "order_id", unique=True,
              sqlite_where=text("state <> 'voided'"), postgresql_where=text("state <> 'voided'")),
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
    bank_account: Mapped[str | None] = col(String(40), "银行账号", "Account", nullable=True)
    bank_name: Mapped[str | None] = col(String(100), "开户银行", "Bank", nullable=True)
    bank_code: Mapped[str | None] = col(String(20), "联行号", "Bank code", nullable=True)
    reason: Mapped[str | None] = col(Text, "退款原因", "Reason", nullable=True)
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
        CheckConstraint("method <> 'bank_account' OR (payee_name IS NOT NULL AND bank_account IS NOT NULL)",
                        name="bank_account_details"),
        Index("uq_refund_one_active_per_line", "order_line_id", unique=True,
              sqlite_where=text(ACTIVE_REFUNDS), postgresql_where=text(ACTIVE_REFUNDS)),
        Index("ix_refund_order", "order_id"),
    )
