"""Quota allocations by USCC (额度预分配): VIP and staff badges for organisations, before or after they register.

A USCC not registered yet gets a pre-allocation, applied when it registers in the same sub-delegation
(models/registration/preallocation.py); a registered organisation gets its quotas at once. Either way within
what the sub-delegation has left (models.registration.operations checks it row by row, in file order).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from importers.base import Context, Importer
from importers.columns import CODE, NUMBER, TEXT, Column, SheetSpec
from importers.values import SubDelegations, bounded_text, domain_check, required, whole_number
from models.columns import value_range
from models.delegation.tables import SubDelegation
from models.enums import Role
from models.errors import DomainError
from models.jsonrows import text_in
from models.registration.operations import (create_quota_allocation, current_edition_id, edit_organization,
                                            edit_quota_allocation)
from models.registration.quotas import sees_figures_of
from models.registration.tables import Organization, QuotaAllocation
from models.validation import validate_uscc

SHEET = SheetSpec("额度预分配", "Quota allocations", (
    Column("uscc", "统一社会信用代码", "USCC", CODE, aliases=("信用代码", "社会信用代码", "Unified social credit code"),
           sample="91440101MA59ABCD1D", width=22),
    Column("name", "单位名称", "Organisation name", TEXT, aliases=("单位", "Organization name", "Name"),
           sample="广州示例贸易有限公司", width=30),
    Column("vip", "VIP额度", "VIP quota", NUMBER, aliases=("VIP", "VIP证件数量"), sample="2", width=10),
    Column("staff", "工作人员额度", "Staff quota", NUMBER, aliases=("工作人员", "工作人员证件数量"), sample="5", width=12),
    Column("sub", "交易分团", "Sub-delegation", TEXT, required=False, aliases=("分团",), width=20),
))


@dataclass
class QuotaRow:
    row: object
    uscc: str
    name: str
    vip: int
    staff: int
    sub: SubDelegation


class QuotasImporter(Importer):
    kind = "quotas"
    title = ("额度预分配", "Quota allocations")
    description = ("按统一社会信用代码为单位分配VIP、工作人员额度：单位尚未注册的，注册时自动生效；已注册的立即生效。均不超过本分团的额度。",
                   "VIP and staff quotas by USCC: applied when an organisation not registered yet registers, at once "
                   "to one registered already; never beyond the sub-delegation's quota.")
    roles = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
    sheets = (SHEET,)

    def choices(self, session, actor) -> dict[str, list[str]]:
        return {"sub": SubDelegations(session, actor).names}

    def validate(self, ctx: Context) -> list[QuotaRow]:
        subs = SubDelegations(ctx.session, ctx.actor)
        low, high = value_range(QuotaAllocation.__table__.c.vip_quota)
        plan, seen = [], {}
        for sheet, row in ctx.rows(SHEET, ("校验额度", "Checking quotas")):
            before = len(ctx.problems)
            uscc = ctx.value(sheet, row, "uscc", lambda t: domain_check(validate_uscc, required(t)))
            name = ctx.value(sheet, row, "name", lambda t: bounded_text(t, 200))
            vip = ctx.value(sheet, row, "vip", lambda t: whole_number(t or "0", int(low), int(high)))
            staff = ctx.value(sheet, row, "staff", lambda t: whole_number(t or "0", int(low), int(high)))
            sub = ctx.value(sheet, row, "sub", subs)
            if ctx.failed(row, before):
                continue
            if uscc in seen:
                ctx.add(sheet, row, "uscc", "duplicate_file", f"统一社会信用代码与第 {seen[uscc]} 行重复",
                        f"The USCC repeats row {seen[uscc]}")
                continue
            seen[uscc] = row.number
            plan.append(QuotaRow(row, uscc, name, vip, staff, sub))
        return plan

    def apply(self, ctx: Context, plan: list[QuotaRow]):
        session, sheet = ctx.session, ctx.sheet(SHEET)
        edition_id = current_edition_id(session)
        usccs = [item.uscc for item in plan]
        allocations = {a.uscc: a for a in session.scalars(select(QuotaAllocation).where(
            QuotaAllocation.edition_id == edition_id, text_in(QuotaAllocation.uscc, usccs)))}
        organizations = {o.uscc: o for o in session.scalars(select(Organization).where(
            Organization.edition_id == edition_id, text_in(Organization.uscc, usccs)))}
        counts = {"new": 0, "changed": 0, "registered": 0}
        ctx.progress.stage(("写入额度", "Writing quotas"), len(plan))
        for item in plan:
            try:
                self._apply_row(ctx, item, allocations.get(item.uscc), organizations.get(item.uscc), counts)
            except DomainError as exc:
                ctx.refuse(sheet, item.row, "vip", exc)
            ctx.progress.advance()
        return [(("新增预分配", "Pre-allocations added"), counts["new"]),
                (("修改预分配", "Pre-allocations changed"), counts["changed"]),
                (("已注册单位的额度已更新", "Registered organisations updated"), counts["registered"])]

    def _apply_row(self, ctx: Context, item: QuotaRow, allocation, organization, counts) -> None:
        session, sheet = ctx.session, ctx.sheet(SHEET)
        if organization is not None and organization.sub_delegation_id != item.sub.id:
            # Named only to those whose scope holds it, like the quota figures (models/registration/quotas.py).
            elsewhere = organization.sub_delegation.name if sees_figures_of(ctx.actor, organization.sub_delegation_id) \
                else None
            ctx.add(sheet, item.row, "sub", "scope", f"该单位已在{f'「{elsewhere}」' if elsewhere else '其他交易分团'}注册，额度由该分团分配",
                    f"This organisation is registered with {elsewhere or 'another sub-delegation'}, "
                    "which allocates its quotas")
            return
        if allocation is not None and allocation.sub_delegation_id != item.sub.id:
            ctx.add(sheet, item.row, "sub", "scope", "该统一社会信用代码已预分配给其他交易分团",
                    "This USCC is pre-allocated to another sub-delegation")
            return
        values = {"organization_name": item.name or None, "vip_quota": item.vip, "staff_quota": item.staff}
        if allocation is None:
            create_quota_allocation(session, {**values, "sub_delegation_id": item.sub.id, "uscc": item.uscc},
                                    actor=ctx.actor, now=ctx.now)
            counts["new"] += 1
        elif edit_quota_allocation(session, allocation, values, actor=ctx.actor, now=ctx.now):
            counts["changed"] += 1
        if organization is not None and edit_organization(
                session, organization, {"vip_quota": item.vip, "staff_quota": item.staff}, actor=ctx.actor,
                now=ctx.now):
            counts["registered"] += 1

