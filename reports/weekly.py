"""Weekly recruitment progress, replayed from the audit log, so any past ISO week can be reported at any time.

An organisation's state, sub-delegation and deletion at any moment follow from its audit entries (every
change is audited in the same transaction): to_state gives the state, an assignment or an edit of the
sub-delegation moves it, delete and restore hide and show it. Replaying the entries in time order yields,
per ISO week (Monday to Sunday, Beijing time), how many organisations each sub-delegation had registered
and approved at the week's end — counted as the dashboard counts them now (reports/quota.py), so the
current week equals the dashboard. Organisations written without an audit entry are not seen.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.delegation import User
from models.errors import InvalidParameter
from models.present import beijing
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW
from reports.common import Written, now_in_beijing, visible_sub_delegations, words
from reports.quota import REGISTERED, completion
from reports.xlsx import INTEGER, PERCENT, TEXT, Column, Sheet, open_workbook

WEEK_PATTERN = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
MAX_WEEKS_CHARTED = 104  # two years of weeks; older weeks stay reportable one at a time
APPROVED = "approved"


def _audit_action(name: str) -> str:
    return ORGANIZATION_WORKFLOW.variants(name)[0].audit_action


ASSIGNED, DELETED, RESTORED = _audit_action("assign_delegation"), _audit_action("delete"), _audit_action("restore")
EDITED = "organization.edited"


def parse_week(text: str | None) -> date:
    """The Monday of an ISO week written 2025-W41 (the current week in Beijing when empty)."""
    if text is None or not str(text).strip():
        return monday_of(now_in_beijing().date())
    match = WEEK_PATTERN.match(str(text))
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise InvalidParameter(f"周次格式应为 YYYY-Www（如 2025-W41），且该周存在：{text}", field="week") from None


def week_name(monday: date) -> str:
    """2025-W41."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class Progress:
    """Organisations registered and approved per sub-delegation at the end of each week."""

    weeks: list[date]                              # Mondays, oldest first, up to the week asked for
    registered: dict[date, dict[int, int]]         # {Monday: {sub-delegation id: organisations}}
    approved: dict[date, dict[int, int]]


def _status(state: str | None, sub_id: int | None, deleted: bool):
    """What an organisation counts for: (sub-delegation, registered?, approved?), or None when it counts for nothing."""
    if deleted or state is None or sub_id is None:
        return None
    return sub_id, state in REGISTERED, state == APPROVED


def _entries(session: Session):
    """Every organisation's audit entries, one organisation after another, each in time order."""
    return session.execute(
        select(AuditEntry.object_id, AuditEntry.at, AuditEntry.action, AuditEntry.sub_delegation_id,
               AuditEntry.to_state, AuditEntry.params)
        .where(AuditEntry.object_type == ORGANIZATION_WORKFLOW.object_type)
        .order_by(AuditEntry.object_id, AuditEntry.at, AuditEntry.id).execution_options(yield_per=5000))


def _changes(session: Session) -> dict[date, dict[tuple, int]]:
    """{Monday: {(sub-delegation, registered?, approved?): +n/-n}}: how each week changed the counts."""
    changes: dict[date, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    current_id, state, sub_id, deleted, status = None, None, None, False, None
    for object_id, at, action, entry_sub, to_state, params in _entries(session):
        if object_id != current_id:
            current_id, state, sub_id, deleted, status = object_id, None, None, False, None
        params = params or {}
        state = to_state or state
        if action == ASSIGNED and params.get("sub_delegation_id") is not None:
            sub_id = int(params["sub_delegation_id"])  # the entry itself names the sub-delegation it left
        elif action == EDITED and isinstance(params.get("sub_delegation_id"), list):
            sub_id = int(params["sub_delegation_id"][-1])
        elif entry_sub is not None:
            sub_id = entry_sub
        deleted = True if action == DELETED else False if action == RESTORED else deleted
        new = _status(state, sub_id, deleted)
        if new != status:
            week = monday_of(beijing(at).date())
            if status is not None:
                changes[week][status] -= 1
            if new is not None:
                changes[week][new] += 1
            status = new
    return changes


def progress(session: Session, until: date) -> Progress:
    """Registered and approved organisations per sub-delegation at the end of every week up to `until`."""
    changes = _changes(session)
    first = min([w for w in changes if w <= until], default=until)
    first = max(first, until - timedelta(weeks=MAX_WEEKS_CHARTED - 1))
    registered: dict[date, dict[int, int]] = {}
    approved: dict[date, dict[int, int]] = {}
    running_registered: dict[int, int] = defaultdict(int)
    running_approved: dict[int, int] = defaultdict(int)
    weeks = []
    # Everything before the charted weeks is the starting point; then week by week.
    for week in sorted(changes):
        if week < first:
            _apply(changes[week], running_registered, running_approved)
    week = first - timedelta(weeks=1)  # the week before the first, for the first week's change
    registered[week], approved[week] = dict(running_registered), dict(running_approved)
    week = first
    while week <= until:
        _apply(changes.get(week, {}), running_registered, running_approved)
        registered[week], approved[week] = dict(running_registered), dict(running_approved)
        weeks.append(week)
        week += timedelta(weeks=1)
    return Progress(weeks=weeks, registered=registered, approved=approved)


def _apply(change: dict[tuple, int], registered: dict[int, int], approved: dict[int, int]) -> None:
    for (sub_id, is_registered, is_approved), n in change.items():
        if is_registered:
            registered[sub_id] += n
        if is_approved:
            approved[sub_id] += n


def weekly_rows(session: Session, actor: User, week: date, codes=None) -> tuple[list[dict], dict, Progress]:
    """Per sub-delegation in scope: registered and approved at the week's end, their change since the week
    before, completion and its change; the totals; and the whole series for the chart."""
    subs = visible_sub_delegations(session, actor, codes)
    series = progress(session, week)
    before = week - timedelta(weeks=1)
    rows = [_row(sub.name, sub.recruitment_target or 0, [sub.id], series, week, before) for sub in subs]
    totals = _row(None, sum(r["target"] for r in rows), [s.id for s in subs], series, week, before)
    for row, sub in zip(rows, subs):
        row["sub"] = sub
    return rows, totals, series


def _row(name, target: int, sub_ids: list[int], series: Progress, week: date, before: date) -> dict:
    def count(figures, when):
        return sum(figures.get(when, {}).get(s, 0) for s in sub_ids)

    registered, approved = count(series.registered, week), count(series.approved, week)
    registered_before, approved_before = count(series.registered, before), count(series.approved, before)
    return {"name": name, "target": target, "registered": registered,
            "registered_change": registered - registered_before, "approved": approved,
            "approved_change": approved - approved_before, "completion": completion(approved, target),
            "completion_change": completion(approved, target) - completion(approved_before, target)}


# --------------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------------

COLUMNS = (
    Column(("交易分团", "Sub-delegation"), TEXT, 22),
    Column(("招商任务（家）", "Target"), INTEGER),
    Column(("已报名单位（周末）", "Registered (week end)"), INTEGER, 14),
    Column(("已报名较上周", "Registered vs last week"), INTEGER, 14),
    Column(("审核通过单位（周末）", "Approved (week end)"), INTEGER, 14),
    Column(("审核通过较上周", "Approved vs last week"), INTEGER, 14),
    Column(("完成率", "Completion"), PERCENT),
    Column(("完成率较上周", "Completion vs last week"), PERCENT, 14),
)


def write_weekly_progress(session: Session, target, *, actor: User, lang: str = "zh", week: date | str | None = None,
                          codes=None) -> Written:
    """The weekly progress workbook of one ISO week (default: this week) at `target`, with the weeks so far charted."""
    monday = week if isinstance(week, date) else parse_week(week)
    rows, totals, series = weekly_rows(session, actor, monday, codes)
    workbook = open_workbook(target)
    try:
        title = words(("周进度", "Weekly progress"), lang) + " " + week_name(monday)
        sheet = Sheet(workbook, title, COLUMNS, lang)
        for row in rows:
            sheet.append(_cells(row["name"], row))
        sheet.append(_cells(words(("合计", "Total"), lang), totals), bold=True)
        sheet.close()
        _series_sheet(workbook, rows, series, lang)
    finally:
        workbook.close()
    return Written(sheets={title: len(rows)})


def _cells(name: str, row: dict) -> list:
    return [name, row["target"], row["registered"], row["registered_change"], row["approved"],
            row["approved_change"], row["completion"], row["completion_change"]]


def _series_sheet(workbook, rows: list[dict], series: Progress, lang: str) -> None:
    """Every week so far: totals and each sub-delegation's approved organisations, and line charts of them."""
    title = words(("历周趋势", "Weeks so far"), lang)
    columns = [Column(("周次", "Week"), TEXT, 10), Column(("已报名单位", "Registered"), INTEGER),
               Column(("审核通过单位", "Approved"), INTEGER)]
    columns += [Column((f"{r['sub'].name}（审核通过）", f"{r['sub'].name} (approved)"), INTEGER, 14) for r in rows]
    sheet = Sheet(workbook, title, columns, lang)
    sub_ids = [r["sub"].id for r in rows]
    for week in series.weeks:
        registered, approved = series.registered[week], series.approved[week]
        sheet.append([week_name(week), sum(registered.get(s, 0) for s in sub_ids),
                      sum(approved.get(s, 0) for s in sub_ids)] + [approved.get(s, 0) for s in sub_ids])
    sheet.close()
    last = sheet.rows
    if not last:
        return
    totals = workbook.add_chart({"type": "line"})
    for col, colour in ((1, "#4F81BD"), (2, "#63BE7B")):
        totals.add_series({"name": [title, 0, col], "categories": [title, 1, 0, last, 0],
                           "values": [title, 1, col, last, col], "line": {"color": colour, "width": 2.25},
                           "marker": {"type": "circle"}})
    totals.set_title({"name": words(("全团累计报名与审核通过单位", "Registered and approved organisations"), lang)})
    totals.set_legend({"position": "bottom"})
    totals.set_size({"width": 720, "height": 340})
    sheet.worksheet.insert_chart(last + 2, 0, totals)
    if rows:
        per_sub = workbook.add_chart({"type": "line"})
        for i in range(len(rows)):
            col = 3 + i
            per_sub.add_series({"name": [title, 0, col], "categories": [title, 1, 0, last, 0],
                                "values": [title, 1, col, last, col]})
        per_sub.set_title({"name": words(("各交易分团审核通过单位", "Approved organisations by sub-delegation"), lang)})
        per_sub.set_legend({"position": "right"})
        per_sub.set_size({"width": 900, "height": 420})
        sheet.worksheet.insert_chart(last + 20, 0, per_sub)
