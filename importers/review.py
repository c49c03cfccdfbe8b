"""Background-review results (公安背审): 证件号码, 审核结果 (通过/不通过), 备注 — the person workflow's review verdicts.

Each row decides one person of the current edition waiting for review (pending_review); a person in any
other state is an error for that row. 不通过 needs the reason in 备注 (it is shown to the organisation).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from importers.base import Context, Importer
from importers.columns import CODE, TEXT, Column, SheetSpec, header_key
from importers.problems import CellError
from importers.values import EnumWords, bounded_text, domain_check, required
from models.enums import IdType, PersonState, Role
from models.jsonrows import text_in
from models.registration.operations import current_edition_id, fail_review, pass_review
from models.registration.tables import Person
from models.scope import visible
from models.validation import normalise

PASS, FAIL = "pass", "fail"
VERDICT_WORDS = {"通过": PASS, "审核通过": PASS, "pass": PASS, "passed": PASS, "approved": PASS,
                 "不通过": FAIL, "审核不通过": FAIL, "未通过": FAIL, "fail": FAIL, "failed": FAIL, "rejected": FAIL}
VERDICTS = {header_key(word): value for word, value in VERDICT_WORDS.items()}
ID_TYPE = EnumWords(IdType)

SHEET = SheetSpec("人员审核结果", "Background review results", (
    Column("id_number", "证件号码", "ID number", CODE, aliases=("身份证号码", "证件号"), sample="110105194912310038",
           width=22),
    Column("verdict", "审核结果", "Result", TEXT, aliases=("结果", "Review result"), choices=("通过", "不通过"),
           sample="通过", width=10),
    Column("note", "备注", "Note", TEXT, required=False, aliases=("原因", "审核意见", "Reason", "Remarks"), width=40),
    Column("id_type", "证件类型", "ID type", TEXT, required=False, choices=ID_TYPE.labels, width=22),
))


def verdict(text: str) -> str:
    """pass or fail, from 通过 / 不通过 (or English)."""
    found = VERDICTS.get(header_key(required(text)))
    if found is None:
        raise CellError("invalid", f"应为「通过」或「不通过」：{text}", f"must be 通过 (passed) or 不通过 (failed): {text}")
    return found


@dataclass
class Verdict:
    row: object
    person_id: int
    verdict: str
    note: str


class ReviewImporter(Importer):
    kind = "review"
    title = ("人员审核结果", "Background review results")
    description = ("导入公安背审结果：按证件号码将待审核人员标记为审核通过或审核不通过（不通过须填写备注）。",
                   "Background review results: persons pending review, by ID number, passed or failed (a failure "
                   "needs its reason in the note).")
    roles = frozenset({Role.SECRETARIAT})
    sheets = (SHEET,)

    def validate(self, ctx: Context) -> list[Verdict]:
        parsed, seen = [], {}
        for sheet, row in ctx.rows(SHEET, ("校验审核结果", "Checking results")):
            before = len(ctx.problems)
            number = ctx.value(sheet, row, "id_number", lambda t: domain_check(normalise, t, field="id_number",
                                                                                what="证件号码"))
            result = ctx.value(sheet, row, "verdict", verdict)
            note = ctx.value(sheet, row, "note", lambda t: bounded_text(t, 500))
            id_type = ctx.value(sheet, row, "id_type", lambda t: ID_TYPE(t) if t else None)
            if ctx.failed(row, before):
                continue
            if result == FAIL and not note:
                ctx.add(sheet, row, "note", "required", "审核不通过须在「备注」中填写原因",
                        "A failed review needs its reason in Note")
                continue
            if (number, id_type) in seen:
                ctx.add(sheet, row, "id_number", "duplicate_file", f"证件号码与第 {seen[(number, id_type)]} 行重复",
                        f"The ID number repeats row {seen[(number, id_type)]}")
                continue
            seen[(number, id_type)] = row.number
            parsed.append((row, number, id_type, result, note))
        return self._find_persons(ctx, parsed)

    def _find_persons(self, ctx: Context, parsed) -> list[Verdict]:
        """The person of each row: in scope, this edition, by number (and type when given), waiting for review."""
        sheet = ctx.sheet(SHEET)
        persons = defaultdict(list)
        rows = ctx.session.execute(
            select(Person.id, Person.id_type, func.upper(Person.id_number).label("number"), Person.state)
            .where(Person.edition_id == current_edition_id(ctx.session), visible(ctx.actor, Person),
                   text_in(func.upper(Person.id_number), {number for _, number, _, _, _ in parsed})))
        for person in rows:
            persons[person.number].append(person)
        plan = []
        for row, number, id_type, result, note in parsed:
            found = [p for p in persons.get(number, []) if id_type is None or p.id_type == id_type]
            if not found:
                ctx.add(sheet, row, "id_number", "not_found", "本届没有该证件号码的人员，或不在您的权限范围内",
                        "No person of this edition has this ID number, or the person is outside your scope")
            elif len(found) > 1:
                ctx.add(sheet, row, "id_type", "invalid", "该证件号码对应多名人员，请填写「证件类型」加以区分",
                        "Several persons have this ID number: fill in ID type to tell them apart")
            elif found[0].state != PersonState.PENDING_REVIEW:
                state = PersonState(found[0].state)
                ctx.add(sheet, row, "id_number", "state", f"人员当前状态为「{state.zh}」，不是「待审核」",
                        f"The person is {state.en}, not pending review")
            else:
                plan.append(Verdict(row, found[0].id, result, note))
        return plan

    def apply(self, ctx: Context, plan: list[Verdict]):
        sheet, by_person = ctx.sheet(SHEET), {v.person_id: v for v in plan}
        ctx.progress.stage(("写入审核结果", "Writing results"), len(plan))
        passed = pass_review(ctx.session, [v.person_id for v in plan if v.verdict == PASS], actor=ctx.actor,
                             now=ctx.now)
        done, skipped = list(passed.done), dict(passed.skipped)
        reasons = defaultdict(list)
        for v in plan:
            if v.verdict == FAIL:
                reasons[v.note].append(v.person_id)
        for reason, ids in reasons.items():  # one set-based transition per distinct reason
            failed = fail_review(ctx.session, ids, actor=ctx.actor, reason=reason, now=ctx.now)
            done += failed.done
            skipped.update(failed.skipped)
        for person_id, refusal in skipped.items():
            ctx.refuse(sheet, by_person[person_id].row, "id_number", refusal)
        ctx.progress.advance(len(plan))
        n_pass = len([i for i in done if by_person[i].verdict == PASS])
        return [(("审核通过", "Passed"), n_pass), (("审核不通过", "Failed"), len(done) - n_pass)]
