"""Finance workbooks. The bank batch file: one row per refund of a batch paid to a bank account, and a totals row.

Request-free: give it a session, the acting user and a target (path or binary file object). Rows stream
from the database into a constant-memory workbook; account numbers and bank codes are written as text
(an account of 19 digits as a number would lose its last ones, and leading zeros would go).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.delegation.tables import User
from models.enums import RefundMethod, RefundState
from models.finance.tables import Order, OrderLine, Refund
from models.registration.tables import Person
from models.scope import visible
from reports.xlsx import open_workbook, write_sheet

BANK_BATCH_HEADERS = ("收款人名称", "收款人账号", "收款人开户银行", "开户银行行号", "金额（元）", "订单号", "参观人员",
                      "退款编号")
TOTAL_LABEL = "合计"


@dataclass
class BankBatch:
    """What the file holds: how many refunds and their total."""

    rows: int
    total: Decimal


def bank_batch_query(batch: str, actor: User):
    """The refunds of a batch paid out to bank accounts, in id order, as the file lists them."""
    return (select(Refund.payee_name, Refund.bank_account, Refund.bank_name, Refund.bank_code, Refund.amount,
                   Order.number, Person.name, Refund.id)
            .join(Order, Order.id == Refund.order_id).join(OrderLine, OrderLine.id == Refund.order_line_id)
            .join(Person, Person.id == OrderLine.person_id)
            .where(Refund.batch == batch, Refund.method == RefundMethod.BANK_ACCOUNT.value,
                   Refund.state == RefundState.REFUNDED.value, visible(actor, Refund))
            .order_by(Refund.id))


def write_bank_batch(session: Session, target, *, batch: str, actor: User) -> BankBatch:
    """Write the bank batch file of `batch` to `target` (a path or a binary file object)."""
    summary = BankBatch(rows=0, total=Decimal("0.00"))

    def rows():
        for payee, account, bank, code, amount, number, person, refund_id in session.execute(
                bank_batch_query(batch, actor).execution_options(yield_per=1000)):
            amount = Decimal(str(amount)).quantize(Decimal("0.01"))
            summary.rows += 1
            summary.total += amount
            yield (payee, str(account), bank, str(code), amount, number, person, str(refund_id))
        yield (TOTAL_LABEL, None, None, None, summary.total, None, f"{summary.rows} 笔", None)

    workbook = open_workbook(target)
    try:
        write_sheet(workbook, f"退款批次{batch}", BANK_BATCH_HEADERS, rows())
    finally:
        workbook.close()
    return summary
