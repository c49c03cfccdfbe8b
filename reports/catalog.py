"""The five exports by name, as the CLI (`flask export KIND`) and the back office's 报表 page offer them."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from models.delegation import User
from models.errors import InvalidParameter
from models.finance.tables import Invoice, Payment, Refund
from models.registration import DealIntention
from models.registration.tallies import OrganizationTally, PersonTally
from models.scope import visible
from reports.common import Written, now_in_beijing, read_session, visible_sub_delegations, words
from reports.deals import write_deal_intentions
from reports.parallel import write_all_sub_delegations, zip_files
from reports.quota import write_quota_dashboard
from reports.reconciliation import write_finance
from reports.sub_delegation import workbook_name, write_sub_delegation
from reports.weekly import parse_week, week_name, write_weekly_progress


@dataclass(frozen=True)
class Export:
    """One export: its name on the command line, its title and what it holds, in both languages."""

    kind: str
    title: tuple[str, str]
    holds: tuple[str, str]


EXPORTS = {e.kind: e for e in (
    Export("sub-delegation", ("交易分团工作簿", "Sub-delegation workbook"),
           ("概况、单位、参观人员、订单、退款、意向成交，每个交易分团一个工作簿；全部导出为 zip",
            "Summary, organisations, persons, orders, refunds, deal intentions; one workbook per sub-delegation, "
            "all of them as a zip")),
    Export("quota-dashboard", ("配额看板", "Quota dashboard"),
           ("招商任务与完成率、人员标签与VIP/工作人员额度、统付额度使用，含图表",
            "Target and completion, labels against VIP/staff quotas, co-payment against budget, with charts")),
    Export("weekly-progress", ("招商周进度", "Weekly progress"),
           ("任一 ISO 周各交易分团的报名与审核进度及较上周变化（据操作日志），含历周趋势图",
            "Any ISO week's registrations and approvals per sub-delegation and the change since the week before "
            "(from the audit log), with the weeks so far charted")),
    Export("finance", ("财务对账", "Finance reconciliation"),
           ("按交易分团和支付方式汇总支付、发票、退款，余额＝已到账－已退款，并列出明细",
            "Payments, invoices and refunds per sub-delegation and method; balance = settled − refunded; "
            "every row listed")),
    Export("deal-intentions", ("意向成交", "Deal intentions"),
           ("按交易分团、按单位、按币种汇总意向成交金额，并列出明细",
            "Amounts per sub-delegation and per organisation by currency, with totals, and every intention")),
)}

SINGLE_WRITERS: dict[str, Callable] = {"quota-dashboard": write_quota_dashboard, "finance": write_finance,
                                       "deal-intentions": write_deal_intentions}


def export_kind(kind: str) -> Export:
    if kind not in EXPORTS:
        raise InvalidParameter(f"未知的报表：{kind}（可选：{'、'.join(EXPORTS)}）", field="kind")
    return EXPORTS[kind]


def file_name(kind: str, lang: str, *, code: str | None = None, every: bool = False, week=None,
              sub_name: str | None = None) -> str:
    """The name a download or a default --out gets: 配额看板_20251012.xlsx, 招商周进度_2025-W41.xlsx, ..."""
    title = words(export_kind(kind).title, lang)
    if kind == "sub-delegation" and every:
        return f"{title}_{now_in_beijing():%Y%m%d}.zip"
    if kind == "sub-delegation":
        return f"{sub_name or code}_{now_in_beijing():%Y%m%d}.xlsx"
    if kind == "weekly-progress":
        return f"{title}_{week_name(week if isinstance(week, date) else parse_week(week))}.xlsx"
    return f"{title}_{now_in_beijing():%Y%m%d}.xlsx"


def estimated_rows(session: Session, kind: str, *, actor: User, code: str | None = None) -> int:
    """About how many rows export `kind` writes for the actor (read from the maintained tallies and counts):
    beyond EXPORT_INLINE_ROWS it is written by a background job. The summary exports hold a row per
    sub-delegation: 0."""
    export_kind(kind)
    if kind == "sub-delegation":
        sub_ids = [s.id for s in visible_sub_delegations(session, actor, [code] if code else None)]
        return sum(session.scalar(select(func.coalesce(func.sum(tally.n), 0)).where(
            tally.sub_delegation_id.in_(sub_ids))) or 0 for tally in (PersonTally, OrganizationTally)) if sub_ids else 0
    models = {"finance": (Payment, Invoice, Refund), "deal-intentions": (DealIntention,)}.get(kind, ())
    return sum(session.scalar(select(func.count()).select_from(model).where(visible(actor, model))) or 0
               for model in models)


def run_export(engine: Engine, kind: str, out: str, *, actor: User, lang: str = "zh", code: str | None = None,
               every: bool = False, week=None, processes: int | None = None, on_done=None) -> Written:
    """Write export `kind` to the path `out`, limited to the actor's scope (and to `code` when given).

    sub-delegation: one workbook for `code`; with `every`, a workbook per sub-delegation in scope, into the
    folder `out`, or into the zip `out` when it ends in .zip. Other kinds: one workbook at `out`.
    """
    export_kind(kind)
    codes = [code] if code else None
    if kind == "sub-delegation" and every:
        return _every_sub_delegation(engine, out, actor=actor, lang=lang, codes=codes, processes=processes,
                                     on_done=on_done)
    with read_session(engine) as session:
        actor = session.get(User, actor.id)
        if kind == "sub-delegation":
            if not code:
                raise InvalidParameter("请指定 --sub-delegation 交易分团代码，或用 --all 导出全部", field="code")
            sub = visible_sub_delegations(session, actor, codes)[0]
            return write_sub_delegation(session, out, actor=actor, sub=sub, lang=lang)
        if kind == "weekly-progress":
            return write_weekly_progress(session, out, actor=actor, lang=lang, week=week, codes=codes)
        return SINGLE_WRITERS[kind](session, out, actor=actor, lang=lang, codes=codes)


def _every_sub_delegation(engine, out: str, *, actor, lang, codes, processes, on_done) -> Written:
    as_zip = out.lower().endswith(".zip")
    folder = tempfile.mkdtemp(prefix="dd-workbooks-") if as_zip else out
    try:
        result = write_all_sub_delegations(engine, folder, actor=actor, lang=lang, codes=codes,
                                           processes=processes, on_done=on_done)
        written = Written(files=result.paths)
        for done in result.done:
            written.sheets[os.path.basename(done.path)] = sum(done.sheets.values())
        if as_zip:
            zip_files(result.paths, out)
            written.files = [out]
        return written
    finally:
        if as_zip:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = ["EXPORTS", "Export", "estimated_rows", "export_kind", "file_name", "run_export", "workbook_name"]
