"""One workbook per sub-delegation: summary, organisations, persons, orders, refunds and deal intentions.

Deleted organisations and their persons are left out, as the lists and the dashboard leave them out;
orders and refunds are money and are all listed. Personal numbers are masked for viewers. The
organisation and person sheets use the batch-registration template's headers, so an exported workbook
reads like an import file.
"""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, aliased

from models.delegation import SubDelegation, User
from models.enums import (CopayDecision, Gender, IdType, Label, OrderState, OrgCategory, OrgState, PaymentMethod,
                          PersonState, Pickup, RefundMethod, RefundState, RegionType)
from models.finance.balances import refunded_amount, settled_amount
from models.finance.tables import Order, OrderLine, Refund
from models.registration import Organization, Person
from models.scope import visible
from reports.common import Written, label, masked, now_in_beijing, seen, visible_sub_delegations, words, yes
from reports.deals import amounts_by_sub_delegation, totals_by_currency, write_intention_rows
from reports.quota import dashboard_rows, share
from reports.xlsx import DATE, DATETIME, INTEGER, MONEY, NUMBER, PERCENT, TEXT, Column, Sheet, open_workbook

# --------------------------------------------------------------------------------------------------
# Sheets
# --------------------------------------------------------------------------------------------------

ORGANIZATION_COLUMNS = (
    Column(("单位编号", "Organisation no."), INTEGER),
    Column(("单位名称", "Organisation"), TEXT, 32),
    Column(("统一社会信用代码", "USCC"), TEXT, 21),
    Column(("单位类别", "Category"), TEXT, 14),
    Column(("交易分团", "Sub-delegation"), TEXT, 16),
    Column(("联系人", "Contact"), TEXT, 10),
    Column(("联系人手机", "Contact mobile"), TEXT, 14),
    Column(("联系人邮箱", "Contact e-mail"), TEXT, 22),
    Column(("采购意向", "Purchase intentions"), TEXT, 30),
    Column(("所在地区", "Region"), TEXT, 12),
    Column(("所属行业", "Industry"), TEXT, 12),
    Column(("状态", "State"), TEXT, 10),
    Column(("VIP额度", "VIP quota"), INTEGER),
    Column(("工作人员额度", "Staff quota"), INTEGER),
    Column(("往届观众", "Prior edition"), TEXT, 8),
    Column(("提交时间", "Submitted at"), DATETIME),
)
PERSON_COLUMNS = (
    Column(("单位名称", "Organisation"), TEXT, 30),
    Column(("统一社会信用代码", "USCC"), TEXT, 21),
    Column(("姓名", "Name"), TEXT, 10),
    Column(("性别", "Gender"), TEXT, 6),
    Column(("人员类型", "Region type"), TEXT, 14),
    Column(("证件类型", "ID type"), TEXT, 14),
    Column(("证件号码", "ID number"), TEXT, 21),
    Column(("出生日期", "Birth date"), DATE),
    Column(("手机", "Mobile"), TEXT, 13),
    Column(("邮箱", "E-mail"), TEXT, 22),
    Column(("职务", "Position"), TEXT, 10),
    Column(("人员标签", "Label"), TEXT, 10),
    Column(("入场日期", "Entry days"), TEXT, 18),
    Column(("领取方式", "Pickup"), TEXT, 12),
    Column(("状态", "State"), TEXT, 10),
    Column(("统付", "Co-payment"), TEXT, 10),
    Column(("证件复用", "Badge reuse"), TEXT, 8),
    Column(("证件编号", "Badge no."), TEXT, 14),
)
ORDER_COLUMNS = (
    Column(("订单号", "Order no."), TEXT, 22),
    Column(("单位名称", "Organisation"), TEXT, 30),
    Column(("订单状态", "State"), TEXT, 10),
    Column(("支付方式", "Method"), TEXT, 16),
    Column(("人数", "Persons"), INTEGER, 8),
    Column(("订单金额（元）", "Total (CNY)"), MONEY),
    Column(("已到账（元）", "Settled (CNY)"), MONEY),
    Column(("已退款（元）", "Refunded (CNY)"), MONEY),
    Column(("余额（元）", "Balance (CNY)"), MONEY),
    Column(("支付时间", "Paid at"), DATETIME),
    Column(("创建时间", "Created at"), DATETIME),
)
REFUND_COLUMNS = (
    Column(("退款编号", "Refund no."), INTEGER),
    Column(("订单号", "Order no."), TEXT, 22),
    Column(("参观人员", "Person"), TEXT, 10),
    Column(("退款金额（元）", "Amount (CNY)"), MONEY),
    Column(("退款方式", "Method"), TEXT, 14),
    Column(("状态", "State"), TEXT, 10),
    Column(("收款人", "Payee"), TEXT, 14),
    Column(("银行账号", "Account"), TEXT, 22),
    Column(("开户银行", "Bank"), TEXT, 22),
    Column(("退款批次", "Batch"), TEXT, 22),
    Column(("退款原因", "Reason"), TEXT, 24),
    Column(("退款时间", "Refunded at"), DATETIME),
)
SUMMARY_COLUMNS = (
    Column(("项目", "Item"), TEXT, 26),
    Column(("数量/金额", "Count / amount"), NUMBER, 16),
    Column(("额度/任务", "Quota / target"), NUMBER, 16),
    Column(("占比", "Share"), PERCENT),
    Column(("说明", "Note"), TEXT, 30),
)
SHEETS = {"summary": ("概况", "Summary"), "organizations": ("单位", "Organisations"),
          "persons": ("参观人员", "Persons"), "orders": ("订单", "Orders"), "refunds": ("退款", "Refunds"),
          "deals": ("意向成交", "Deal intentions")}


def labels_of(enum_cls, lang: str) -> dict[str, str]:
    """{stored value: label}: enum columns are read as their stored text and looked up here, once per sheet."""
    return {m.value: label(m, lang) for m in enum_cls}


def as_text(column):
    """An enum column read as its stored value: no enum conversion per row."""
    return cast(column, String)


def write_sub_delegation(session: Session, target, *, actor: User, sub: SubDelegation | str,
                         lang: str = "zh") -> Written:
    """The workbook of one sub-delegation (a code or a row in the actor's scope) at `target`."""
    # Checked against the actor's scope even when a row is passed in.
    sub = visible_sub_delegations(session, actor, [sub if isinstance(sub, str) else sub.code])[0]
    written = Written()
    workbook = open_workbook(target)
    try:
        _summary(session, workbook, actor, sub, lang, written)
        for key, writer in (("organizations", _organizations), ("persons", _persons), ("orders", _orders),
                            ("refunds", _refunds)):
            title = words(SHEETS[key], lang)
            written.sheets[title] = writer(session, Sheet(workbook, title, _columns(key), lang), actor, sub, lang)
        title = words(SHEETS["deals"], lang)
        written.sheets[title] = write_intention_rows(session, workbook, title, actor, [sub.id], {sub.id: sub.name},
                                                     lang)
    finally:
        workbook.close()
    return written


def _columns(key: str):
    return {"organizations": ORGANIZATION_COLUMNS, "persons": PERSON_COLUMNS, "orders": ORDER_COLUMNS,
            "refunds": REFUND_COLUMNS}[key]


def _summary(session: Session, workbook, actor: User, sub: SubDelegation, lang: str, written: Written) -> None:
    """Key figures: the dashboard's row of this sub-delegation (same query), orders' money, deal intentions."""
    rows, _ = dashboard_rows(session, actor, [sub.code])
    figures = rows[0]
    title = words(SHEETS["summary"], lang)
    sheet = Sheet(workbook, title, SUMMARY_COLUMNS, lang)
    w = lambda pair: words(pair, lang)  # noqa: E731
    sheet.append([w(("交易分团", "Sub-delegation")), None, None, None, f"{sub.name}（{sub.code}）"])
    sheet.append([w(("导出时间（北京时间）", "Exported at (Beijing)")), None, None, None,
                  now_in_beijing().strftime("%Y-%m-%d %H:%M")])
    sheet.append([w(("导出人", "Exported by")), None, None, None, str(actor)])
    sheet.append([w(("审核通过单位 / 招商任务", "Approved / target")), figures["approved"], figures["target"],
                  figures["share"], None])
    sheet.append([w(("已报名单位", "Registered organisations")), figures["registered"], None, None,
                  w(("不含待提交、审核不通过", "not counting drafts and rejections"))])
    for state in OrgState:
        sheet.append([w(("单位：", "Organisations: ")) + label(state, lang), figures["orgs"].get(state.value, 0),
                      None, None, None])
    sheet.append([w(("参观人员", "Persons")), figures["person_total"], None, None, None])
    for state in PersonState:
        sheet.append([w(("人员：", "Persons: ")) + label(state, lang), figures["persons"].get(state.value, 0),
                      None, None, None])
    note = w(("占用额度的人员（含已删除单位）", "persons holding a slot (deleted organisations too)"))
    sheet.append(["VIP", figures["vip_used"], figures["vip_quota"], share(figures["vip_used"], figures["vip_quota"]),
                  note])
    sheet.append([label(Label.STAFF, lang), figures["staff_used"], figures["staff_quota"],
                  share(figures["staff_used"], figures["staff_quota"]), note])
    sheet.append([label(Label.PROFESSIONAL, lang), figures["labels"][Label.PROFESSIONAL.value], None, None, None])
    sheet.append([w(("统付（元）", "Co-payment (CNY)")), figures["copay_used"], figures["copay_budget"],
                  share(figures["copay_used"], figures["copay_budget"]), None])
    money = _order_money(session, actor, sub)
    sheet.append([w(("订单", "Orders")), money["orders"], None, None, None])
    sheet.append([w(("已到账（元）", "Settled (CNY)")), money["settled"], None, None, None])
    sheet.append([w(("已退款（元）", "Refunded (CNY)")), money["refunded"], None, None, None])
    sheet.append([w(("余额（元）", "Balance (CNY)")), money["settled"] - money["refunded"], None, None,
                  w(("已到账－已退款", "settled − refunded"))])
    deals = amounts_by_sub_delegation(session, actor, [sub.id])
    for currency, (n, amount) in totals_by_currency(deals).items():
        sheet.append([w(("意向成交金额（", "Deal intentions (")) + currency + w(("）", ")")), amount, None, None,
                      w((f"{n} 笔", f"{n} intentions"))])
    sheet.close()
    written.sheets[title] = sheet.rows


def _order_money(session: Session, actor: User, sub: SubDelegation) -> dict:
    orders = select(Order.id).where(Order.sub_delegation_id == sub.id, visible(actor, Order)).subquery()
    count = session.scalar(select(func.count()).select_from(orders))
    settled = session.scalar(select(func.coalesce(func.sum(settled_amount()), 0)).where(Order.id.in_(select(orders))))
    refunded = session.scalar(select(func.coalesce(func.sum(refunded_amount()), 0)).where(Order.id.in_(select(orders))))
    return {"orders": count or 0, "settled": Decimal(str(settled)), "refunded": Decimal(str(refunded))}


def _organizations(session: Session, sheet: Sheet, actor: User, sub: SubDelegation, lang: str) -> int:
    kinds = masked(actor, Organization)
    categories, states = labels_of(OrgCategory, lang), labels_of(OrgState, lang)
    yes_word, no_word = yes(True, lang), yes(False, lang)
    mobile_kind = kinds.get("contact_mobile")
    query = (select(Organization.id, Organization.name, Organization.uscc, as_text(Organization.category),
                    Organization.contact_name, Organization.contact_mobile, Organization.contact_email,
                    Organization.purchase_intentions, Organization.region, Organization.industry,
                    as_text(Organization.state), Organization.vip_quota, Organization.staff_quota,
                    Organization.prior_edition, Organization.submitted_at)
             .where(Organization.sub_delegation_id == sub.id, visible(actor, Organization),
                    Organization.deleted_at.is_(None))
             .order_by(Organization.id).execution_options(yield_per=5000))
    for (org_id, name, uscc, category, contact, mobile, email, intentions, region, industry, state, vip, staff,
         prior, submitted) in session.execute(query):
        sheet.append((org_id, name, uscc, categories.get(category, category), sub.name, contact,
                      seen(mobile, mobile_kind), email, intentions, region, industry, states.get(state, state), vip,
                      staff, yes_word if prior else no_word, submitted))
    sheet.close()
    return sheet.rows


def _persons(session: Session, sheet: Sheet, actor: User, sub: SubDelegation, lang: str) -> int:
    kinds = masked(actor, Person)
    genders, regions, id_types = labels_of(Gender, lang), labels_of(RegionType, lang), labels_of(IdType, lang)
    labels, pickups = labels_of(Label, lang), labels_of(Pickup, lang)
    states, copays = labels_of(PersonState, lang), labels_of(CopayDecision, lang)
    yes_word, no_word = yes(True, lang), yes(False, lang)
    # An alias: visible(actor, Person) has its own EXISTS over organisations, which must not correlate to the join.
    org = aliased(Organization)
    query = (select(org.name, org.uscc, Person.name, as_text(Person.gender),
                    as_text(Person.region_type), as_text(Person.id_type), Person.id_number, Person.birth_date,
                    Person.mobile, Person.email, Person.position, as_text(Person.label), Person.entry_days,
                    as_text(Person.pickup), as_text(Person.state), as_text(Person.copay), Person.is_reuse,
                    Person.badge_number)
             .join(org, org.id == Person.organization_id)
             .where(Person.sub_delegation_id == sub.id, visible(actor, Person), org.deleted_at.is_(None))
             .order_by(Person.organization_id, Person.id).execution_options(yield_per=5000))
    id_kind, birth_kind, mobile_kind = kinds.get("id_number"), kinds.get("birth_date"), kinds.get("mobile")
    masks = any((id_kind, birth_kind, mobile_kind))
    append = sheet.append
    for (org, uscc, name, gender, region, id_type, id_number, birth, mobile, email, position, person_label, days,
         pickup, state, copay, reuse, badge) in session.execute(query):
        if masks:  # a viewer: personal numbers masked, the birth date only its year
            id_number, birth, mobile = seen(id_number, id_kind), seen(birth, birth_kind), seen(mobile, mobile_kind)
        append((org, uscc, name, genders.get(gender, gender), regions.get(region, region),
                id_types.get(id_type, id_type), id_number, birth, mobile, email, position,
                labels.get(person_label, person_label), days, pickups.get(pickup, pickup), states.get(state, state),
                copays.get(copay, copay), yes_word if reuse else no_word, badge))
    sheet.close()
    return sheet.rows


def _orders(session: Session, sheet: Sheet, actor: User, sub: SubDelegation, lang: str) -> int:
    states, methods = labels_of(OrderState, lang), labels_of(PaymentMethod, lang)
    persons = (select(func.count()).where(OrderLine.order_id == Order.id).correlate(Order).scalar_subquery())
    query = (select(Order.number, Organization.name, as_text(Order.state), as_text(Order.payment_method), persons,
                    Order.total_amount, settled_amount(), refunded_amount(), Order.paid_at, Order.created_at)
             .join(Organization, Organization.id == Order.organization_id)
             .where(Order.sub_delegation_id == sub.id, visible(actor, Order))
             .order_by(Order.id).execution_options(yield_per=5000))
    for number, org, state, method, n, total, settled, refunded, paid_at, created in session.execute(query):
        settled, refunded = Decimal(str(settled)), Decimal(str(refunded))
        sheet.append((number, org, states.get(state, state), methods.get(method, method) if method else None, n,
                      total, settled, refunded, settled - refunded, paid_at, created))
    sheet.close()
    return sheet.rows


def _refunds(session: Session, sheet: Sheet, actor: User, sub: SubDelegation, lang: str) -> int:
    kinds = masked(actor, Refund)
    methods, states = labels_of(RefundMethod, lang), labels_of(RefundState, lang)
    query = (select(Refund.id, Order.number, Person.name, Refund.amount, as_text(Refund.method),
                    as_text(Refund.state), Refund.payee_name, Refund.bank_account, Refund.bank_name, Refund.batch,
                    Refund.reason, Refund.refunded_at)
             .join(Order, Order.id == Refund.order_id).join(OrderLine, OrderLine.id == Refund.order_line_id)
             .join(Person, Person.id == OrderLine.person_id)
             .where(Order.sub_delegation_id == sub.id, visible(actor, Order))  # a refund's scope is its order's
             .order_by(Refund.id).execution_options(yield_per=5000))
    for (refund_id, number, person, amount, method, state, payee, account, bank, batch, reason,
         at) in session.execute(query):
        sheet.append((refund_id, number, person, amount, methods.get(method, method), states.get(state, state), payee,
                      seen(account, kinds.get("bank_account")), bank, batch, reason, at))
    sheet.close()
    return sheet.rows


# --------------------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------------------

UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def workbook_name(sub: SubDelegation) -> str:
    """广州交易分团-guangzhou.xlsx: the name a person looks for first, the code that keeps it unique."""
    return UNSAFE.sub("_", f"{sub.name}-{sub.code}") + ".xlsx"
