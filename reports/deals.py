"""Deal intentions (意向成交): amounts per sub-delegation and per organisation, by currency, with totals per
currency (amounts in different currencies are never added together), and every intention listed."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.delegation import User
from models.registration import DealIntention, Organization
from models.scope import visible
from reports.common import Written, visible_sub_delegations, words
from reports.xlsx import DATETIME, INTEGER, MONEY, TEXT, Column, Sheet, open_workbook

SUB = Column(("交易分团", "Sub-delegation"), TEXT, 22)
ORG = Column(("单位名称", "Organisation"), TEXT, 32)
CURRENCY = Column(("币种", "Currency"), TEXT, 8)
COUNT = Column(("意向笔数", "Intentions"), INTEGER)
AMOUNT = Column(("意向金额", "Amount"), MONEY, 18)
TOTAL = ("合计", "Total")


def _scope(actor: User, sub_ids):
    return DealIntention.sub_delegation_id.in_(sub_ids), visible(actor, DealIntention)


def amounts_by_sub_delegation(session: Session, actor: User, sub_ids) -> list[tuple[int, str, int, Decimal]]:
    """(sub-delegation id, currency, intentions, amount) in scope."""
    return [(s, c, n, Decimal(str(a))) for s, c, n, a in session.execute(
        select(DealIntention.sub_delegation_id, DealIntention.currency, func.count(), func.sum(DealIntention.amount))
        .where(*_scope(actor, sub_ids)).group_by(DealIntention.sub_delegation_id, DealIntention.currency))]


def totals_by_currency(groups) -> dict[str, tuple[int, Decimal]]:
    """{currency: (intentions, amount)} summed over the groups."""
    out: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for *_, currency, n, amount in groups:
        out[currency][0] += n
        out[currency][1] += amount
    return {c: (n, a) for c, (n, a) in sorted(out.items())}


def write_deal_intentions(session: Session, target, *, actor: User, lang: str = "zh", codes=None) -> Written:
    """The deal-intentions workbook at `target`: by sub-delegation, by organisation, every intention."""
    subs = visible_sub_delegations(session, actor, codes)
    sub_ids = [s.id for s in subs]
    order = {s.id: i for i, s in enumerate(subs)}
    names = {s.id: s.name for s in subs}
    total_label = words(TOTAL, lang)
    written = Written()
    workbook = open_workbook(target)
    try:
        groups = sorted(amounts_by_sub_delegation(session, actor, sub_ids), key=lambda g: (order[g[0]], g[1]))
        title = words(("按交易分团", "By sub-delegation"), lang)
        sheet = Sheet(workbook, title, (SUB, CURRENCY, COUNT, AMOUNT), lang)
        for sub_id, currency, n, amount in groups:
            sheet.append([names[sub_id], currency, n, amount])
        for currency, (n, amount) in totals_by_currency(groups).items():
            sheet.append([total_label, currency, n, amount], bold=True)
        sheet.close()
        written.sheets[title] = len(groups)

        title = words(("按单位", "By organisation"), lang)
        sheet = Sheet(workbook, title, (SUB, ORG, CURRENCY, COUNT, AMOUNT), lang)
        by_org = session.execute(
            select(DealIntention.sub_delegation_id, Organization.name, DealIntention.currency, func.count(),
                   func.sum(DealIntention.amount))
            .join(Organization, Organization.id == DealIntention.organization_id).where(*_scope(actor, sub_ids))
            .group_by(DealIntention.sub_delegation_id, Organization.id, Organization.name, DealIntention.currency)
            .order_by(DealIntention.sub_delegation_id, Organization.name, DealIntention.currency))
        org_groups = []
        for sub_id, org, currency, n, amount in by_org:
            org_groups.append((sub_id, currency, n, Decimal(str(amount))))
            sheet.append([names[sub_id], org, currency, n, amount])
        for currency, (n, amount) in totals_by_currency(org_groups).items():
            sheet.append([total_label, None, currency, n, amount], bold=True)
        sheet.close()
        written.sheets[title] = len(org_groups)

        title = words(("意向成交明细", "Intentions"), lang)
        written.sheets[title] = write_intention_rows(session, workbook, title, actor, sub_ids, names, lang)
    finally:
        workbook.close()
    return written


INTENTION_COLUMNS = (SUB, ORG, Column(("展商", "Exhibitor"), TEXT, 28), Column(("意向金额", "Amount"), MONEY, 18),
                     CURRENCY, Column(("备注", "Note"), TEXT, 30), Column(("填报时间", "Reported at"), DATETIME))


def write_intention_rows(session: Session, workbook, title: str, actor: User, sub_ids, names: dict, lang: str) -> int:
    """Every intention in scope, one row each (the sub-delegation workbook lists its own the same way)."""
    sheet = Sheet(workbook, title, INTENTION_COLUMNS, lang)
    rows = session.execute(
        select(DealIntention.sub_delegation_id, Organization.name, DealIntention.exhibitor, DealIntention.amount,
               DealIntention.currency, DealIntention.note, DealIntention.created_at)
        .join(Organization, Organization.id == DealIntention.organization_id).where(*_scope(actor, sub_ids))
        .order_by(DealIntention.sub_delegation_id, DealIntention.id).execution_options(yield_per=2000))
    for sub_id, *values in rows:
        sheet.append([names.get(sub_id)] + values)
    sheet.close()
    return sheet.rows
