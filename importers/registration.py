"""Batch registration (批量注册): a 单位 sheet of organisations and a 人员 sheet of their persons, linked by USCC.

Organisations register as drafts, persons as saved, through the set-based operations of
models/registration/bulk.py (100,000 persons in a few statements). Cells are checked here with
models.validation: USCCs (GB 32100) and resident IDs with python-stdnum, other documents by their format,
a birth date that agrees with the ID, duplicates within the file; the operations refuse what needs the
database (scope, registered already, quotas of VIP/staff labels asked at registration).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from importers.base import Context, Importer
from importers.columns import CODE, DATE, TEXT, Column, SheetSpec
from importers.problems import CellError
from importers.values import EnumWords, SubDelegations, a_date, bounded_text, domain_check, required
from models.delegation.tables import ExpoEdition
from models.enums import Gender, IdType, Label, OrgCategory, Pickup, RegionType, Role
from models.jsonrows import text_in
from models.registration.bulk import register_organizations, register_persons
from models.registration.operations import current_edition_id
from models.registration.tables import Organization
from models.scope import visible
from models.validation import validate_email, validate_id_document, validate_mobile, validate_uscc

CATEGORY = EnumWords(OrgCategory)
GENDER = EnumWords(Gender, {"M": Gender.MALE, "F": Gender.FEMALE})
REGION = EnumWords(RegionType, {"大陆": RegionType.MAINLAND, "中国大陆": RegionType.MAINLAND,
                                "港澳台": RegionType.HK_MACAO_TAIWAN, "境外": RegionType.OTHER_COUNTRY})
ID_TYPE = EnumWords(IdType, {"身份证": IdType.RESIDENT_ID, "港澳通行证": IdType.HK_MACAO_PERMIT,
                             "台胞证": IdType.TAIWAN_PERMIT})
LABEL = EnumWords(Label)
PICKUP = EnumWords(Pickup, {"交易团领取": Pickup.DELEGATION, "统一领取": Pickup.DELEGATION})
DAY_SEPARATORS = re.compile(r"[,，、;；\s]+")

ORGANIZATIONS = SheetSpec("单位", "Organisations", (
    Column("name", "单位名称", "Organisation name", TEXT, aliases=("Organization name", "Name"),
           sample="广州示例贸易有限公司", width=30),
    Column("uscc", "统一社会信用代码", "USCC", CODE, aliases=("信用代码", "社会信用代码"), sample="91440101MA59ABCD1D",
           width=22),
    Column("category", "单位类别", "Category", TEXT, aliases=("单位观众分类", "单位类型"), choices=CATEGORY.labels,
           sample=OrgCategory.ENTERPRISE.zh, width=16),
    Column("sub", "交易分团", "Sub-delegation", TEXT, aliases=("分团",), sample="", width=20),
    Column("contact_name", "联系人", "Contact", TEXT, sample="张三", width=12),
    Column("contact_mobile", "联系人手机", "Contact mobile", CODE, aliases=("联系人手机号",), sample="13800138000",
           width=16),
    Column("contact_email", "联系人邮箱", "Contact e-mail", TEXT, aliases=("联系人电子邮箱",), sample="zhangsan@example.cn",
           width=24),
    Column("purchase", "采购意向", "Purchase intentions", TEXT, sample="食品及农产品", width=30),
), names=("单位", "单位信息", "Organisations", "Organizations"))

PERSONS = SheetSpec("人员", "Persons", (
    Column("uscc", "统一社会信用代码", "USCC", CODE, aliases=("单位统一社会信用代码", "信用代码"), sample="91440101MA59ABCD1D",
           width=22),
    Column("name", "姓名", "Name", TEXT, sample="李四", width=12),
    Column("gender", "性别", "Gender", TEXT, choices=GENDER.labels, sample="男", width=8),
    Column("region", "人员类型", "Region type", TEXT, aliases=("地区类型", "国家/地区"), choices=REGION.labels,
           sample=RegionType.MAINLAND.zh, width=18),
    Column("id_type", "证件类型", "ID type", TEXT, choices=ID_TYPE.labels, sample=IdType.RESIDENT_ID.zh, width=22),
    Column("id_number", "证件号码", "ID number", CODE, aliases=("身份证号码",), sample="110105194912310038", width=22),
    Column("birth", "出生日期", "Birth date", DATE, required=False, sample="1949-12-31", width=12),
    Column("mobile", "手机", "Mobile", CODE, aliases=("手机号", "手机号码"), sample="13900139000", width=16),
    Column("email", "邮箱", "E-mail", TEXT, aliases=("电子邮箱",), sample="lisi@example.cn", width=24),
    Column("position", "职务", "Position", TEXT, sample="采购经理", width=14),
    Column("label", "人员标签", "Label", TEXT, aliases=("标签类型", "标签"), choices=LABEL.labels,
           sample=Label.PROFESSIONAL.zh, width=12),
    Column("entry_days", "入场日期", "Entry days", TEXT, sample="2025-11-05,2025-11-06", width=24),
    Column("pickup", "领取方式", "Pickup", TEXT, choices=PICKUP.labels, sample=Pickup.EXPRESS.zh, width=16),
), names=("人员", "人员信息", "参观人员", "Persons", "People"))


@dataclass
class Plan:
    edition_id: int
    organizations: list[tuple]  # (row, values)
    persons: list[tuple]  # (row, uscc, values)
    existing: dict[str, int]  # uscc -> id of organisations registered before, in scope


class RegistrationImporter(Importer):
    kind = "registration"
    title = ("批量注册", "Batch registration")
    description = ("批量注册单位及其参观人员：「单位」工作表列出单位，「人员」工作表按统一社会信用代码列出各单位的人员（可为本表中的单位或已注册的单位）。"
                   "单位注册为待提交，人员为已保存；VIP、工作人员标签须在额度之内。",
                   "Registers organisations (sheet 单位) and their persons (sheet 人员, linked by USCC to an organisation "
                   "of the file or one registered already): organisations as drafts, persons as saved; VIP and staff "
                   "labels within the quotas.")
    roles = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
    sheets = (ORGANIZATIONS, PERSONS)

    def choices(self, session, actor) -> dict[str, list[str]]:
        return {"sub": SubDelegations(session, actor).names}

    def validate(self, ctx: Context) -> Plan:
        edition_id = current_edition_id(ctx.session)
        organizations, in_file = self._organizations(ctx)
        persons = self._persons(ctx, edition_days(ctx.session, edition_id))
        wanted = {uscc for _, uscc, _ in persons if uscc not in in_file}
        existing = dict(ctx.session.execute(select(Organization.uscc, Organization.id).where(
            Organization.edition_id == edition_id, visible(ctx.actor, Organization),
            Organization.deleted_at.is_(None), text_in(Organization.uscc, wanted))).all()) if wanted else {}
        sheet = ctx.sheet(PERSONS)
        for row, uscc, _ in persons:
            if uscc not in in_file and uscc not in existing:
                ctx.add(sheet, row, "uscc", "not_found", "该统一社会信用代码的单位既不在「单位」表中，也未在本届注册（或不在您的权限范围内）",
                        "No organisation with this USCC is in sheet 单位 or registered in this edition (within your scope)")
        return Plan(edition_id, organizations, persons, existing)

    def _organizations(self, ctx: Context) -> tuple[list[tuple], set[str]]:
        """The valid organisation rows, and every USCC the sheet gives (persons may name a row with other errors)."""
        subs = SubDelegations(ctx.session, ctx.actor)
        out, seen, given = [], {}, set()
        for sheet, row in ctx.rows(ORGANIZATIONS, ("校验单位", "Checking organisations")):
            before = len(ctx.problems)
            value = lambda name, parse: ctx.value(sheet, row, name, parse)  # noqa: E731
            values = {
                "name": value("name", lambda t: bounded_text(required(t), 200)),
                "uscc": value("uscc", checked_uscc),
                "category": value("category", lambda t: CATEGORY(required(t)).value),
                "sub_delegation_id": getattr(value("sub", subs), "id", None),
                "contact_name": value("contact_name", lambda t: bounded_text(required(t), 50)),
                "contact_mobile": value("contact_mobile", lambda t: domain_check(validate_mobile, required(t))),
                "contact_email": value("contact_email", lambda t: domain_check(validate_email, t) if t else None),
                "purchase_intentions": value("purchase", lambda t: bounded_text(required(t), 2000)),
            }
            given.add(values["uscc"])
            if ctx.failed(row, before):
                continue
            if values["uscc"] in seen:
                ctx.add(sheet, row, "uscc", "duplicate_file", f"统一社会信用代码与第 {seen[values['uscc']]} 行重复",
                        f"The USCC repeats row {seen[values['uscc']]}")
                continue
            seen[values["uscc"]] = row.number
            out.append((row, values))
        return out, given

    def _persons(self, ctx: Context, days: set[date]) -> list[tuple]:
        out, seen = [], {}
        today = date.today()
        for sheet, row in ctx.rows(PERSONS, ("校验人员", "Checking persons")):
            before = len(ctx.problems)
            cells = row.values
            same = lambda name, parse: ctx.same_value(sheet, row, name, parse)  # noqa: E731
            uscc = same("uscc", checked_uscc)
            id_type = same("id_type", lambda t: ID_TYPE(t) if t else IdType.RESIDENT_ID)
            document = None
            if id_type is not None:
                document = ctx.value(sheet, row, "id_number",
                                     lambda t: domain_check(validate_id_document, id_type, required(t), today=today))
            birth = ctx.value(sheet, row, "birth", lambda t: a_date(t, not_after=today) if t else None)
            gender = same("gender", lambda t: GENDER(t) if t else None)
            values = {
                "name": ctx.value(sheet, row, "name", lambda t: bounded_text(required(t), 100)),
                "region_type": same("region", lambda t: REGION(t).value if t else "mainland"),
                "mobile": ctx.value(sheet, row, "mobile", lambda t: domain_check(validate_mobile, t) if t else None),
                "email": ctx.value(sheet, row, "email", lambda t: domain_check(validate_email, t) if t else None),
                "position": same("position", lambda t: bounded_text(t, 100) or None),
                "label": same("label", lambda t: LABEL(t).value if t else "professional"),
                "entry_days": same("entry_days", lambda t: entry_days(t, days) if t else None),
                "pickup": same("pickup", lambda t: PICKUP(t).value if t else "express"),
            }
            if ctx.failed(row, before) or document is None:
                continue
            if document.birth_date is not None:  # a resident ID tells birth date and gender: they must agree
                if birth is not None and birth != document.birth_date:
                    ctx.add(sheet, row, "birth", "invalid",
                            f"「出生日期」{cells['birth']} 与身份证号码中的出生日期 {document.birth_date:%Y-%m-%d} 不符",
                            f"Birth date {cells['birth']} does not match the ID number's {document.birth_date:%Y-%m-%d}")
                    continue
                if gender is not None and gender is not document.gender:
                    ctx.add(sheet, row, "gender", "invalid", f"「性别」与身份证号码不符（证件为{document.gender.zh}）",
                            f"Gender does not match the ID number ({document.gender.en})")
                    continue
                birth, gender = document.birth_date, document.gender
            if gender is None:
                ctx.add(sheet, row, "gender", "required", "「性别」不能为空", "Gender is required")
                continue
            key = (document.id_type, document.number)
            if key in seen:
                ctx.add(sheet, row, "id_number", "duplicate_file", f"证件号码与第 {seen[key]} 行重复",
                        f"The ID number repeats row {seen[key]}")
                continue
            seen[key] = row.number
            values.update(gender=gender.value, id_type=document.id_type.value, id_number=document.number,
                          birth_date=birth)
            out.append((row, uscc, values))
        return out

    def apply(self, ctx: Context, plan: Plan):
        organizations, persons = ctx.sheet(ORGANIZATIONS), ctx.sheet(PERSONS)
        ctx.progress.stage(("写入单位和人员", "Writing organisations and persons"), 2)
        registered = register_organizations(ctx.session, [v for _, v in plan.organizations], actor=ctx.actor,
                                            edition_id=plan.edition_id, now=ctx.now)
        for position, refusal in registered.refused.items():
            ctx.refuse(organizations, plan.organizations[position][0], refusal.field or "uscc", refusal)
        ctx.progress.advance()
        if not registered.complete:
            return []
        org_ids = {**plan.existing, **registered.ids}
        linked = [(row, uscc, values) for row, uscc, values in plan.persons if uscc in org_ids]  # others reported
        rows = [dict(values, organization_id=org_ids[uscc]) for _, uscc, values in linked]
        added = register_persons(ctx.session, rows, actor=ctx.actor, now=ctx.now)
        for position, refusal in added.refused.items():
            field_name = {"organization_id": "uscc"}.get(refusal.field, refusal.field)
            ctx.refuse(persons, linked[position][0], field_name or "id_number", refusal)
        ctx.progress.advance()
        return [(("注册单位", "Organisations registered"), len(registered.ids)),
                (("登记人员", "Persons registered"), len(added.ids.get("persons", [])))]


def checked_uscc(text: str) -> str:
    """A required USCC, checked (GB 32100) and normalised."""
    return domain_check(validate_uscc, required(text))


def edition_days(session, edition_id: int) -> set[date]:
    """The edition's entry days: those it lists, or every day from opening to closing."""
    edition = session.get(ExpoEdition, edition_id)
    year = edition.start_date.year if edition.start_date else date.today().year
    days = {d for d in (_day(part, year) for part in DAY_SEPARATORS.split(edition.entry_days or "")) if d}
    if days or not (edition.start_date and edition.end_date):
        return days
    return {edition.start_date + timedelta(days=n) for n in range((edition.end_date - edition.start_date).days + 1)}


def _day(text: str, year: int) -> date | None:
    text = text.strip().replace("/", "-").replace(".", "-")
    for candidate in (text, f"{year}-{text}"):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    match = re.fullmatch(r"(\d{1,2})月(\d{1,2})日", text)
    if match:
        return date(year, int(match[1]), int(match[2]))
    return None


def entry_days(text: str, days: set[date]) -> str:
    """The entry days as comma-separated ISO dates, each one a day of the edition."""
    year = min(days).year if days else date.today().year
    chosen = []
    for part in DAY_SEPARATORS.split(text.strip()):
        if not part:
            continue
        day = _day(part, year)
        if day is None or (days and day not in days):
            listed = "、".join(f"{d:%m-%d}" for d in sorted(days))
            raise CellError("invalid", f"「{part}」不是本届的入场日期（可选：{listed}）",
                            f"{part} is not an entry day of this edition ({listed})")
        chosen.append(day)
    return ",".join(d.isoformat() for d in sorted(set(chosen)))
