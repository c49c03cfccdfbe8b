"""Recruitment targets (招商任务分解表): the seed's table as it is — 序号, 成员单位, 组织采购商（家数）, a 合 计 row.

Each row sets a sub-delegation's target and its number; a member unit that is not a sub-delegation yet is
created when the row also gives its 代码 and 类型 (models/delegation/data/recruitment_targets.csv does).
The 合 计 row, when there is one, must equal the sum. Secretariat only.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from importers.base import Context, Importer
from importers.columns import CODE, NUMBER, TEXT, Column, SheetSpec, header_key
from importers.values import EnumWords, bounded_text, required, whole_number
from models.columns import value_range
from models.delegation.operations import create_sub_delegation, edit_sub_delegation
from models.delegation.tables import Delegation, SubDelegation
from models.enums import Role, SubDelegationKind
from models.errors import DomainError

TOTAL_WORDS = {header_key(w) for w in ("合计", "总计", "合 计", "total")}
KIND = EnumWords(SubDelegationKind, {"地市": SubDelegationKind.CITY, "省直": SubDelegationKind.DEPARTMENT,
                                     "市": SubDelegationKind.CITY, "省直单位": SubDelegationKind.DEPARTMENT})


def is_total(values: dict) -> bool:
    return header_key(values.get("seq")) in TOTAL_WORDS or header_key(values.get("name")) in TOTAL_WORDS


SHEET = SheetSpec("招商任务", "Recruitment targets", (
    Column("seq", "序号", "No.", NUMBER, aliases=("seq", "编号"), sample="1", width=8),
    Column("name", "成员单位", "Member unit", TEXT, aliases=("交易分团", "Sub-delegation", "name"), sample="广州市",
           width=24),
    Column("target", "组织采购商（家数）", "Purchasing organisations", NUMBER,
           aliases=("组织采购商", "招商任务", "招商任务（家）", "Recruitment target", "target"), sample="400", width=20),
    Column("code", "代码", "Code", CODE, required=False, aliases=("code",), sample="guangzhou", width=16),
    Column("kind", "类型", "Kind", TEXT, required=False, aliases=("kind",), choices=KIND.labels, sample="地市分团",
           width=14),
), is_total_row=is_total)


@dataclass
class TargetRow:
    row: object
    seq: int
    name: str
    target: int
    sub: SubDelegation | None
    code: str | None
    kind: SubDelegationKind | None


class TargetsImporter(Importer):
    kind = "targets"
    title = ("招商任务", "Recruitment targets")
    description = ("按招商工作任务分解表（序号、成员单位、组织采购商（家数）、合计）更新各交易分团的招商任务；新的成员单位须填写代码和类型。",
                   "Sets each sub-delegation's recruitment target from the task table (No., member unit, "
                   "purchasing organisations, total); a new member unit needs its code and kind.")
    roles = frozenset({Role.SECRETARIAT})
    sheets = (SHEET,)

    def validate(self, ctx: Context) -> list[TargetRow]:
        session = ctx.session
        subs = session.scalars(select(SubDelegation)).all()
        by_name = {header_key(s.name): s for s in subs}
        by_code = {header_key(s.code): s for s in subs}
        low, high = value_range(SubDelegation.__table__.c.recruitment_target)
        plan, seen_names, seen_seq = [], {}, {}
        for sheet, row in ctx.rows(SHEET, ("校验招商任务", "Checking targets")):
            before = len(ctx.problems)
            seq = ctx.value(sheet, row, "seq", lambda t: whole_number(required(t), 1, 10_000))
            name = ctx.value(sheet, row, "name", lambda t: bounded_text(required(t), 100))
            target = ctx.value(sheet, row, "target", lambda t: whole_number(required(t), int(low), int(high)))
            code = ctx.value(sheet, row, "code", lambda t: bounded_text(t, 32) or None)
            kind = ctx.value(sheet, row, "kind", lambda t: KIND(t) if t else None)
            if ctx.failed(row, before):
                continue
            for key, seen, field_name, what in ((header_key(name), seen_names, "name", ("成员单位", "member unit")),
                                                (seq, seen_seq, "seq", ("序号", "number"))):
                if key in seen:
                    ctx.add(sheet, row, field_name, "duplicate_file", f"{what[0]}与第 {seen[key]} 行重复",
                            f"The {what[1]} repeats row {seen[key]}")
                seen.setdefault(key, row.number)
            sub = by_name.get(header_key(name)) or (by_code.get(header_key(code)) if code else None)
            if sub is None and not (code and kind):
                ctx.add(sheet, row, "name", "not_found", f"交易分团「{name}」不存在；如需新建，请同时填写「代码」和「类型」",
                        f"There is no sub-delegation {name}; to create it, fill in Code and Kind as well")
            elif sub is None and header_key(code) in by_code:
                ctx.add(sheet, row, "code", "duplicate_db", f"代码「{code}」已被交易分团「{by_code[header_key(code)].name}」使用",
                        f"Code {code} belongs to sub-delegation {by_code[header_key(code)].name}")
            plan.append(TargetRow(row, seq, name, target, sub, code, kind))
        self._check_total(ctx, plan)
        return plan

    def _check_total(self, ctx: Context, plan: list[TargetRow]) -> None:
        """The 合 计 row, when there is one, equals the sum of the rows."""
        sheet = ctx.sheet(SHEET)
        totals = [r for r in sheet.rows if r.is_total]
        if len(totals) > 1:
            ctx.add(sheet, totals[1], "name", "total", "合计行出现了不止一次", "There is more than one total row")
        if not totals or ctx.problems:
            return
        stated = ctx.value(sheet, totals[0], "target", lambda t: whole_number(required(t), 0, 10_000_000))
        summed = sum(r.target for r in plan)
        if stated is not None and stated != summed:
            ctx.add(sheet, totals[0], "target", "total", f"合计 {stated} 与各行之和 {summed} 不符（相差 {abs(stated - summed)}）",
                    f"The total {stated} does not equal the sum of the rows, {summed} (a difference of "
                    f"{abs(stated - summed)})")

    def apply(self, ctx: Context, plan: list[TargetRow]):
        session = ctx.session
        delegation_id = session.scalar(select(Delegation.id).order_by(Delegation.id).limit(1))
        sheet = ctx.sheet(SHEET)
        updated = created = 0
        ctx.progress.stage(("写入招商任务", "Writing targets"), len(plan))
        for item in plan:
            try:
                if item.sub is None:
                    create_sub_delegation(session, {"delegation_id": delegation_id, "seq": item.seq, "name": item.name,
                                                    "code": item.code, "kind": item.kind,
                                                    "recruitment_target": item.target}, actor=ctx.actor, now=ctx.now)
                    created += 1
                elif edit_sub_delegation(session, item.sub, {"seq": item.seq, "recruitment_target": item.target},
                                         actor=ctx.actor, now=ctx.now):
                    updated += 1
            except DomainError as exc:
                ctx.refuse(sheet, item.row, "target", exc)
            ctx.progress.advance()
        return [(("更新交易分团", "Sub-delegations updated"), updated), (("新建交易分团", "Sub-delegations created"), created),
                (("未变化", "Unchanged"), len(plan) - updated - created)]
