"""The quota dashboard: per sub-delegation, recruitment against target, persons by label against the VIP and
staff quotas, co-payment against the budget. One query feeds the back office's home page and the workbook.

Counting rules:
- organisations and persons by state leave deleted organisations (and their persons) out, as the lists do;
  registered = every state but draft and rejected; completion = approved / target;
- labels against quotas count the persons holding a slot, as the quota checks count them
  (models/registration/quotas.py), so the dashboard shows 40/40 exactly when a 41st VIP is refused;
- co-payment used is the confirmed co-paid amount, as the budget check sums it.
All of it is read from the maintained counts (models/registration/tallies.py), not from the rows.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.delegation import SubDelegation, User
from models.enums import CopayDecision, Label, OrgState
from models.registration.quotas import QUOTA_FIELD, RELEASED_STATES
from models.registration.tallies import OrganizationTally, PersonTally
from models.scope import visible
from reports.common import Written, visible_sub_delegations, words
from reports.xlsx import INTEGER, MONEY, PERCENT, TEXT, Column, Sheet, open_workbook

REGISTERED = frozenset(s.value for s in OrgState) - {OrgState.DRAFT.value, OrgState.REJECTED.value}
LABELS = tuple(label.value for label in Label)


def completion(approved: int, target: int) -> float:
    """Approved organisations as a share of the target (0 when there is no target)."""
    return approved / target if target else 0.0


def share(used, allowed) -> float:
    """Used as a share of allowed (0 when nothing is allowed)."""
    return float(Decimal(str(used or 0)) / Decimal(str(allowed))) if allowed else 0.0


QUOTA_LABELS = {label.value for label in QUOTA_FIELD}


def _org_counts(session: Session, sub_ids) -> dict[int, dict[str, int]]:
    """Organisations not deleted, by state, from the maintained counts (models/registration/tallies.py)."""
    rows = session.execute(select(OrganizationTally.sub_delegation_id, OrganizationTally.state, OrganizationTally.n)
                           .where(OrganizationTally.sub_delegation_id.in_(sub_ids), OrganizationTally.deleted.is_(False),
                                  OrganizationTally.n != 0))
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sub_id, state, n in rows:
        out[sub_id][state] += n
    return out


def _person_counts(session: Session, sub_ids):
    """States (deleted organisations left out), slots by label and co-payment, from the maintained counts: a few
    rows per sub-delegation, kept in step by the database with every change (models/registration/tallies.py)."""
    rows = session.execute(
        select(PersonTally.sub_delegation_id, PersonTally.state, PersonTally.label, PersonTally.copay,
               PersonTally.org_deleted, PersonTally.n, PersonTally.copay_amount)
        .where(PersonTally.sub_delegation_id.in_(sub_ids), PersonTally.n != 0))
    states: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    slots: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    copaid: dict[int, Decimal] = defaultdict(Decimal)
    for sub_id, state, label, copay, is_deleted, n, amount in rows:
        if not is_deleted:
            states[sub_id][state] += n
        # VIP and staff count against the quota whatever becomes of the organisation (as the quota check
        # counts them); professional visitors hold no slot and are counted like the persons by state.
        if state not in RELEASED_STATES and (label in QUOTA_LABELS or not is_deleted):
            slots[sub_id][label] += n
        if copay == CopayDecision.CONFIRMED.value:
            copaid[sub_id] += Decimal(str(amount))
    return states, slots, copaid


def _figures(orgs: dict, persons: dict, labels: dict, copay_used: Decimal, target: int, vip_quota: int,
             staff_quota: int, copay_budget: Decimal) -> dict:
    registered = sum(n for s, n in orgs.items() if s in REGISTERED)
    approved = orgs.get(OrgState.APPROVED.value, 0)
    return {"orgs": dict(orgs), "persons": dict(persons), "org_total": sum(orgs.values()),
            "person_total": sum(persons.values()), "registered": registered, "approved": approved,
            "target": target, "share": completion(approved, target),
            "completion": round(100 * completion(approved, target), 1),
            "labels": {label: labels.get(label, 0) for label in LABELS},
            "vip_used": labels.get(Label.VIP.value, 0), "vip_quota": vip_quota,
            "staff_used": labels.get(Label.STAFF.value, 0), "staff_quota": staff_quota,
            "copay_used": copay_used, "copay_budget": copay_budget}


def dashboard_rows(session: Session, actor: User, codes=None) -> tuple[list[dict], dict]:
    """One row per sub-delegation in the actor's scope (narrowed to `codes`), and the totals.

    Each row: sub, target, registered, approved, share (0..1), completion (percent, 1 decimal), orgs and
    persons by state with their totals, labels {vip, staff, professional: slot holders}, vip_used/vip_quota,
    staff_used/staff_quota, copay_used/copay_budget. The totals have the same keys but sub.
    """
    subs = visible_sub_delegations(session, actor, codes) if codes else list(session.scalars(
        select(SubDelegation).where(visible(actor, SubDelegation)).order_by(SubDelegation.seq, SubDelegation.id)))
    sub_ids = [s.id for s in subs]
    orgs = _org_counts(session, sub_ids) if sub_ids else {}
    states, slots, copaid = _person_counts(session, sub_ids) if sub_ids else ({}, {}, {})
    rows = []
    for sub in subs:
        row = _figures(orgs.get(sub.id, {}), states.get(sub.id, {}), slots.get(sub.id, {}),
                       copaid.get(sub.id, Decimal(0)), sub.recruitment_target or 0, sub.vip_quota or 0,
                       sub.staff_quota or 0, Decimal(str(sub.copay_budget or 0)))
        rows.append({"sub": sub, **row})
    return rows, totals_of(rows)


def totals_of(rows: list[dict]) -> dict:
    """The sum of every figure of the rows (completion recomputed from the sums)."""
    def summed(key):
        out = defaultdict(int)
        for row in rows:
            for k, n in row[key].items():
                out[k] += n
        return out

    labels = summed("labels")
    totals = _figures(summed("orgs"), summed("persons"), labels, sum((r["copay_used"] for r in rows), Decimal(0)),
                      sum(r["target"] for r in rows), sum(r["vip_quota"] for r in rows),
                      sum(r["staff_quota"] for r in rows), sum((r["copay_budget"] for r in rows), Decimal(0)))
    # Labels are shown with every label as a key, even those no person holds.
    totals["labels"] = {label: labels.get(label, 0) for label in LABELS}
    return totals


# --------------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------------

COLUMNS = (
    Column(("交易分团", "Sub-delegation"), TEXT, 22),
    Column(("招商任务（家）", "Target"), INTEGER),
    Column(("已报名单位", "Registered"), INTEGER),
    Column(("审核通过单位", "Approved"), INTEGER),
    Column(("完成率", "Completion"), PERCENT, 14),
    Column(("参观人员", "Persons"), INTEGER),
    Column(("专业观众", "Professional visitors"), INTEGER),
    Column(("VIP已用", "VIP used"), INTEGER),
    Column(("VIP额度", "VIP quota"), INTEGER),
    Column(("VIP剩余", "VIP left"), INTEGER),
    Column(("工作人员已用", "Staff used"), INTEGER),
    Column(("工作人员额度", "Staff quota"), INTEGER),
    Column(("工作人员剩余", "Staff left"), INTEGER),
    Column(("统付已用（元）", "Co-payment used (CNY)"), MONEY),
    Column(("统付额度（元）", "Co-payment budget (CNY)"), MONEY),
    Column(("统付使用率", "Co-payment used %"), PERCENT, 14),
)
TOTAL = ("合计", "Total")
CHART_COLOURS = {"vip": "#C0504D", "vip_left": "#F2DCDB", "staff": "#4F81BD", "staff_left": "#DCE6F1"}


def _cells(name: str, figures: dict) -> list:
    return [name, figures["target"], figures["registered"], figures["approved"], figures["share"],
            figures["person_total"], figures["labels"][Label.PROFESSIONAL.value],
            figures["vip_used"], figures["vip_quota"], max(figures["vip_quota"] - figures["vip_used"], 0),
            figures["staff_used"], figures["staff_quota"], max(figures["staff_quota"] - figures["staff_used"], 0),
            figures["copay_used"], figures["copay_budget"], share(figures["copay_used"], figures["copay_budget"])]


def write_quota_dashboard(session: Session, target, *, actor: User, lang: str = "zh", codes=None) -> Written:
    """The quota dashboard workbook at `target` (path or binary file): a table, data bars, a totals row, charts."""
    rows, totals = dashboard_rows(session, actor, codes)
    workbook = open_workbook(target)
    try:
        title = words(("配额看板", "Quota dashboard"), lang)
        sheet = Sheet(workbook, title, COLUMNS, lang)
        for row in rows:
            sheet.append(_cells(row["sub"].name, row))
        last = sheet.rows  # the last sub-delegation's row; the totals row comes after it
        sheet.append(_cells(words(TOTAL, lang), totals), bold=True)
        sheet.close()
        if rows:
            _data_bars(sheet.worksheet, last)
            _charts(workbook, sheet.worksheet, title, last, lang)
    finally:
        workbook.close()
    return Written(sheets={title: len(rows)})


def _data_bars(worksheet, last: int) -> None:
    """Bars inside the completion, used and co-payment cells of the sub-delegation rows (not the totals)."""
    for col, colour in ((4, "#63BE7B"), (7, "#C0504D"), (10, "#4F81BD"), (15, "#F79646")):
        worksheet.conditional_format(1, col, last, col, {"type": "data_bar", "bar_color": colour,
                                                         "bar_solid": True, "min_type": "num", "min_value": 0})


def _charts(workbook, worksheet, title: str, last: int, lang: str) -> None:
    """Bars for completion; stacked bars of VIP and staff used and left, whose length is the quota."""
    names = [title, 1, 0, last, 0]
    height = max(320, 22 * last + 120)
    bars = workbook.add_chart({"type": "bar"})
    bars.add_series({"name": words(("完成率", "Completion"), lang), "categories": names,
                     "values": [title, 1, 4, last, 4], "fill": {"color": "#63BE7B"},
                     "data_labels": {"value": True, "num_format": "0%"}})
    bars.set_title({"name": words(("各交易分团招商完成率", "Completion by sub-delegation"), lang)})
    bars.set_x_axis({"num_format": "0%", "min": 0})
    bars.set_y_axis({"reverse": True})
    bars.set_legend({"none": True})
    bars.set_size({"width": 620, "height": height})
    worksheet.insert_chart(last + 3, 0, bars)

    stacked = workbook.add_chart({"type": "bar", "subtype": "stacked"})
    for col, key, name in ((7, "vip", ("VIP已用", "VIP used")), (9, "vip_left", ("VIP剩余", "VIP left")),
                           (10, "staff", ("工作人员已用", "Staff used")),
                           (12, "staff_left", ("工作人员剩余", "Staff left"))):
        stacked.add_series({"name": words(name, lang), "categories": names, "values": [title, 1, col, last, col],
                            "fill": {"color": CHART_COLOURS[key]}, "gap": 60})
    stacked.set_title({"name": words(("人员标签与额度", "Labels against quotas"), lang)})
    stacked.set_y_axis({"reverse": True})
    stacked.set_legend({"position": "bottom"})
    stacked.set_size({"width": 620, "height": height})
    worksheet.insert_chart(last + 3, 6, stacked)
