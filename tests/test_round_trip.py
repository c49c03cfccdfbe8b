"""Round trip (issue 10): batch-register a workbook, export the sub-delegation workbooks, read them back.

A sub-delegation admin and the secretariat each import a workbook as a person fills in the template (text
cells, date cells, Chinese names, mainland ID cards and other documents, numbers with leading zeros); the
sub-delegation workbooks written by the reports module and by `flask export` are read back with pandas
(every column as text, as an importer reads them) and openpyxl (cell types), and must hold the same
organisations and persons with the same values. The quota dashboard and the weekly progress of a past week
are checked against counts taken straight from the tables and from the audit log; viewers get personal
numbers masked; an admin gets only their own sub-delegation; formula-like text stays text.
"""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from models.present import mask
import xlsxwriter
from sqlalchemy import func, select
from stdnum.cn import uscc as stdnum_uscc

from factories import export_cli, make_uscc, make_world
from importer_files import ORG_HEADER, PERSON_HEADER, resident_id
from models import AuditEntry, Organization, OrgState, Person, SubDelegation
from models.errors import NotFound
from models.registration import operations as ops
from reports.catalog import run_export
from reports.quota import write_quota_dashboard
from reports.sub_delegation import write_sub_delegation
from reports.weekly import parse_week, weekly_rows, write_weekly_progress
from test_importers import imported, kinds

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
QUOTA_HEADER = ["统一社会信用代码", "单位名称", "VIP额度", "工作人员额度", "交易分团"]


# --------------------------------------------------------------------------------------------------
# Workbooks as a person fills in the template: text cells stay text, dates are date cells
# --------------------------------------------------------------------------------------------------

def workbook(sheets: dict[str, list[list]]) -> bytes:
    """Every str as a text cell (also one starting with '='), every date as a date cell, None as an empty cell."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                     "strings_to_urls": False})
    text, day = book.add_format({"num_format": "@"}), book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, date):
                    sheet.write_datetime(r, c, datetime.combine(value, time()), day)
                elif value is not None and value != "":
                    sheet.write_string(r, c, value, text)
    book.close()
    return out.getvalue()


def registration(orgs: list[dict], persons: list[dict]) -> bytes:
    return workbook({"单位": [ORG_HEADER] + [[o.get(h, "") for h in ORG_HEADER] for o in orgs],
                     "人员": [PERSON_HEADER] + [[p.get(h, "") for h in PERSON_HEADER] for p in persons]})


def uscc(kind: str, region: str, code8: str) -> str:
    """A valid USCC: registration authority and kind ('91' enterprise, '12' public institution), region, code."""
    body = kind + region + code8 + _org_check(code8)
    return body + stdnum_uscc.calc_check_digit(body)


def _org_check(code8: str) -> str:
    """GB 11714 check character of an organisation code (letters count from 10)."""
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in code8]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


# The sub-delegation admin's file (广州): organisations without a sub-delegation (theirs), by name, by code.
BAIYUN = uscc("91", "440101", "MA59ABCD")  # letters in the code
HOSPITAL = uscc("12", "440100", "45585816")  # a public institution
ZHUJIANG = make_uscc(2_024_001, "440104")
GZ_ORGS = [
    {"单位名称": "广州白云国际贸易有限公司", "统一社会信用代码": BAIYUN.lower(), "单位类别": "企业", "交易分团": "",
     "联系人": "欧阳娜娜", "联系人手机": "+86 138-0013-8000", "联系人邮箱": "Ouyang.NaNa@Example.CN",
     "采购意向": "食品及农产品、医疗器械及医药保健"},
    {"单位名称": "广州市第一人民医院", "统一社会信用代码": HOSPITAL, "单位类别": "事业单位", "交易分团": "广州交易分团",
     "联系人": "李四", "联系人手机": "13912345678", "联系人邮箱": "", "采购意向": "医疗器械"},
    {"单位名称": "珠江（广州）食品有限公司", "统一社会信用代码": f" {ZHUJIANG} ", "单位类别": "Enterprise",
     "交易分团": "GZ", "联系人": "司马光", "联系人手机": "15000150000", "联系人邮箱": "sima@zhujiang.cn",
     "采购意向": "智能及高端装备"},
]
ORGS_EXPECTED = {  # what the export shows where it differs from the cells: normalised by the importer
    BAIYUN: {"统一社会信用代码": BAIYUN, "交易分团": "广州交易分团", "联系人手机": "13800138000",
             "联系人邮箱": "Ouyang.NaNa@example.cn"},
    HOSPITAL: {},
    ZHUJIANG: {"统一社会信用代码": ZHUJIANG, "单位类别": "企业", "交易分团": "广州交易分团"},
}
ID_X = resident_id(4, "19881231", "440106")  # ends in X, a woman's
ID_PLAIN = resident_id(11, "19900101", "110105")
ID_XINJIANG = resident_id(8, "19950615", "650102")  # a woman's
assert ID_X.endswith("X")
GZ_PERSONS = [
    {"统一社会信用代码": BAIYUN, "姓名": "欧阳娜娜", "性别": "", "人员类型": "中国大陆地区", "证件类型": "居民身份证",
     "证件号码": ID_X.lower(), "出生日期": date(1988, 12, 31), "手机": "13800138000", "邮箱": "Ouyang@Example.cn",
     "职务": "采购总监", "人员标签": "VIP", "入场日期": "2025-11-05、11-06", "领取方式": "快递"},
    {"统一社会信用代码": BAIYUN, "姓名": "张伟", "性别": "男", "人员类型": "大陆", "证件类型": "身份证",
     "证件号码": ID_PLAIN, "出生日期": "1990/01/01", "手机": "199 1234 5678", "邮箱": "", "职务": "",
     "人员标签": "工作人员", "入场日期": "11月7日", "领取方式": "交易团统一领取"},
    {"统一社会信用代码": BAIYUN, "姓名": "John Smith", "性别": "M", "人员类型": "其他国家/地区", "证件类型": "护照",
     "证件号码": "e12345678", "出生日期": date(1975, 3, 9), "手机": "", "邮箱": "john.smith@Example.com",
     "职务": "Buyer", "人员标签": "", "入场日期": "", "领取方式": ""},
    {"统一社会信用代码": HOSPITAL, "姓名": "陈大文", "性别": "男", "人员类型": "港澳台地区",
     "证件类型": "港澳居民来往内地通行证", "证件号码": "H01234567", "出生日期": "1980-02-29", "手机": "13700137000",
     "邮箱": "", "职务": "主任", "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"},
    {"统一社会信用代码": HOSPITAL, "姓名": "林美玲", "性别": "女", "人员类型": "港澳台地区", "证件类型": "台胞证",
     "证件号码": "01234567", "出生日期": "1974年11月29日", "手机": "18600186000", "邮箱": "", "职务": "副主任",
     "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"},
    {"统一社会信用代码": ZHUJIANG, "姓名": "阿依古丽·买买提", "性别": "", "人员类型": "中国大陆地区",
     "证件类型": "居民身份证", "证件号码": ID_XINJIANG, "出生日期": "", "手机": "13500135000", "邮箱": "",
     "职务": "经理", "人员标签": "专业观众", "入场日期": "2025-11-05", "领取方式": "快递"},
]
PERSONS_EXPECTED = {  # by the ID number the export shows: the values that differ from the cells
    ID_X: {"性别": "女", "证件号码": ID_X, "邮箱": "Ouyang@example.cn", "入场日期": "2025-11-05,2025-11-06",
           "出生日期": date(1988, 12, 31)},
    ID_PLAIN: {"人员类型": "中国大陆地区", "证件类型": "居民身份证", "出生日期": date(1990, 1, 1), "手机": "19912345678",
               "入场日期": "2025-11-07", "领取方式": "交易团统一领取"},
    "E12345678": {"性别": "男", "证件号码": "E12345678", "邮箱": "john.smith@example.com", "人员标签": "专业观众",
                  "领取方式": "快递", "出生日期": date(1975, 3, 9)},
    "H01234567": {"出生日期": date(1980, 2, 29)},
    "01234567": {"证件类型": "台湾居民来往大陆通行证", "出生日期": date(1974, 11, 29)},
    ID_XINJIANG: {"性别": "女", "出生日期": date(1995, 6, 15), "入场日期": "2025-11-05"},
}

# The secretariat's file: two other sub-delegations, and a person joining a 广州 organisation registered before.
QIANHAI, TAOCI = make_uscc(2_024_002, "440300"), make_uscc(2_024_003, "440600")
ID_SZ = resident_id(21, "20000229", "440305")
ID_ZHUGE = resident_id(33, "19810723", "440104")
SECRETARIAT_ORGS = [
    {"单位名称": "深圳前海供应链管理有限公司", "统一社会信用代码": QIANHAI, "单位类别": "企业", "交易分团": "SZ",
     "联系人": "黄小明", "联系人手机": "13600136000", "联系人邮箱": "huang@qianhai.cn", "采购意向": "消费品"},
    {"单位名称": "佛山市陶瓷行业协会", "统一社会信用代码": TAOCI, "单位类别": "社会组织", "交易分团": "佛山交易分团",
     "联系人": "何家劲", "联系人手机": "13300133000", "联系人邮箱": "", "采购意向": "服务贸易"},
]
SECRETARIAT_PERSONS = [
    {"统一社会信用代码": QIANHAI, "姓名": "黄小明", "性别": "", "人员类型": "中国大陆地区", "证件类型": "居民身份证",
     "证件号码": ID_SZ, "出生日期": "2000-02-29", "手机": "13600136000", "邮箱": "", "职务": "总经理",
     "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"},
    {"统一社会信用代码": TAOCI, "姓名": "Wong Ka Fai", "性别": "男", "人员类型": "中国（永居海外）", "证件类型": "护照",
     "证件号码": "0012345", "出生日期": date(1966, 7, 1), "手机": "", "邮箱": "", "职务": "理事",
     "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"},
    {"统一社会信用代码": ZHUJIANG, "姓名": "诸葛亮", "性别": "", "人员类型": "中国大陆地区", "证件类型": "居民身份证",
     "证件号码": ID_ZHUGE, "出生日期": "", "手机": "13100131000", "邮箱": "",
     "职务": "顾问", "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"},
]
ORGS_EXPECTED.update({QIANHAI: {"交易分团": "深圳交易分团"}, TAOCI: {"交易分团": "佛山交易分团"}})
PERSONS_EXPECTED.update({ID_SZ: {"性别": "男", "出生日期": date(2000, 2, 29)},
                         "0012345": {"出生日期": date(1966, 7, 1)},
                         ID_ZHUGE: {"性别": "男", "出生日期": date(1981, 7, 23)}})
NAMES = {o["统一社会信用代码"].strip().upper(): o["单位名称"] for o in GZ_ORGS + SECRETARIAT_ORGS}
PERSON_COLUMNS = ["统一社会信用代码", "姓名", "性别", "人员类型", "证件类型", "证件号码", "手机", "邮箱", "职务", "人员标签",
                  "入场日期", "领取方式"]


def expected_persons(cells: list[dict], names: dict[str, str]) -> dict[str, dict]:
    """{ID number as exported: the export's row} for import rows; `names`: {USCC: organisation name}."""
    out = {}
    for row in cells:
        key = row["证件号码"].upper()
        want = {h: row[h] for h in PERSON_COLUMNS if not isinstance(row[h], date)}
        want.update(PERSONS_EXPECTED[key])
        want["单位名称"], want["状态"] = names[row["统一社会信用代码"]], "已保存"
        out[key] = want
    return out


def expected_orgs(cells: list[dict], state: str = "待提交") -> dict[str, dict]:
    out = {}
    for row in cells:
        key = row["统一社会信用代码"].strip().upper()
        want = dict(row)
        want.update(ORGS_EXPECTED.get(key, {}))
        want["状态"] = state
        out[key] = want
    return out


# --------------------------------------------------------------------------------------------------
# Reading workbooks back
# --------------------------------------------------------------------------------------------------

def data_of(source) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()
    with open(source, "rb") as f:
        return f.read()


def frames(source) -> dict[str, pd.DataFrame]:
    """Every sheet with every column as text (as an importer reads a file); empty cells as ''."""
    sheets = pd.read_excel(io.BytesIO(data_of(source)), sheet_name=None, engine="calamine", dtype=str)
    return {name: frame.fillna("") for name, frame in sheets.items()}


def typed(source) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data_of(source)))


def records(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def package_text(source) -> str:
    with zipfile.ZipFile(io.BytesIO(data_of(source))) as package:
        return "".join(package.read(n).decode("utf-8") for n in package.namelist() if n.endswith(".xml"))


def by_key(frame: pd.DataFrame, column: str) -> dict[str, dict]:
    rows = frame.to_dict("records")
    keyed = {r[column]: r for r in rows}
    assert len(keyed) == len(rows), f"{column} repeats in the export"
    return keyed


def assert_persons(source, want: dict[str, dict]) -> None:
    """The person sheet holds exactly these persons with these values; birth dates are date cells."""
    exported = by_key(frames(source)["参观人员"], "证件号码")
    assert set(exported) == set(want)
    for key, expected in want.items():
        for column, value in expected.items():
            if column == "出生日期":
                continue
            assert exported[key][column] == value, (key, column, exported[key][column], value)
    cells = {r["证件号码"]: r for r in records(typed(source)["参观人员"])}
    for key, expected in want.items():
        assert cells[key]["出生日期"] == datetime.combine(expected["出生日期"], time()), key
    sheet = typed(source)["参观人员"]
    birth = [c.column for c in sheet[1] if c.value == "出生日期"][0]
    assert {sheet.cell(r, birth).number_format for r in range(2, sheet.max_row + 1)} == {"yyyy-mm-dd"}
    assert {sheet.cell(r, birth).data_type for r in range(2, sheet.max_row + 1)} == {"d"}


def assert_orgs(source, want: dict[str, dict]) -> None:
    exported = by_key(frames(source)["单位"], "统一社会信用代码")
    assert set(exported) == set(want)
    for key, expected in want.items():
        for column, value in expected.items():
            assert exported[key][column] == value, (key, column, exported[key][column], value)


# --------------------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------------------

@pytest.fixture
def world3(session):
    return make_world(session, codes=("GZ", "SZ", "FS"))


def import_both(session, world, *, gz_at=None, secretariat_at=None):
    """The quota pre-allocation, the admin's file and the secretariat's file, each imported and checked."""
    quotas = workbook({"额度": [QUOTA_HEADER, [BAIYUN, "广州白云国际贸易有限公司", "1", "1", ""]]})
    result = imported(session, "quotas", quotas, world.admins["GZ"], now=gz_at)
    assert result.ok, [p.text("zh") for p in result.problems]
    result = imported(session, "registration", registration(GZ_ORGS, GZ_PERSONS), world.admins["GZ"], now=gz_at)
    assert result.ok, [p.text("zh") for p in result.problems]
    assert dict((label[0], n) for label, n in result.counts) == {"注册单位": 3, "登记人员": 6}
    result = imported(session, "registration", registration(SECRETARIAT_ORGS, SECRETARIAT_PERSONS),
                      world.secretariat, filename="秘书处批量注册.xlsx", now=secretariat_at)
    assert result.ok, [p.text("zh") for p in result.problems]
    assert dict((label[0], n) for label, n in result.counts) == {"注册单位": 2, "登记人员": 3}


def org_ids(session) -> dict[str, int]:
    return dict(session.execute(select(Organization.uscc, Organization.id)).all())


@pytest.fixture
def cli(database_url, engine, tmp_path):
    """`flask --app admin_app export ...` through click's runner, on the test database."""
    with export_cli(database_url, tmp_path) as run:
        yield run


# --------------------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------------------

def test_registered_workbooks_come_back_from_the_sub_delegation_workbooks(session, world3, cli, tmp_path):
    submitted_at = datetime(2025, 9, 30, 16, 45, tzinfo=timezone.utc)  # 1 October, 00:45 in Beijing
    import_both(session, world3)
    ops.submit_organizations(session, [org_ids(session)[HOSPITAL]], actor=world3.admins["GZ"], now=submitted_at)
    session.commit()

    # 广州, by its admin through the reports module
    gz = io.BytesIO()
    written = write_sub_delegation(session, gz, actor=world3.admins["GZ"], sub="GZ", lang="zh")
    assert written.sheets["单位"] == 3 and written.sheets["参观人员"] == 7
    orgs = expected_orgs(GZ_ORGS)
    orgs[HOSPITAL]["状态"] = "待审核"
    assert_orgs(gz, orgs)
    gz_persons = expected_persons(GZ_PERSONS + SECRETARIAT_PERSONS[2:], NAMES)
    assert_persons(gz, gz_persons)
    # the pre-allocated quota came with the registration; the submission time is Beijing time, a date-time cell
    org_rows = {r["统一社会信用代码"]: r for r in records(typed(gz)["单位"])}
    assert (org_rows[BAIYUN]["VIP额度"], org_rows[BAIYUN]["工作人员额度"]) == (1, 1)
    assert org_rows[HOSPITAL]["提交时间"] == datetime(2025, 10, 1, 0, 45)
    assert org_rows[BAIYUN]["提交时间"] is None
    assert frames(gz)["单位"].set_index("统一社会信用代码").loc[HOSPITAL, "提交时间"].startswith("2025-10-01 00:45")

    # 深圳, by the secretariat through `flask export`
    path = tmp_path / "深圳.xlsx"
    result = cli("sub-delegation", "--sub-delegation", "SZ", "--out", str(path), "--as", world3.secretariat.username)
    assert result.exit_code == 0, result.output
    assert_orgs(path, expected_orgs(SECRETARIAT_ORGS[:1]))
    assert_persons(path, expected_persons(SECRETARIAT_PERSONS[:1], NAMES))

    # 佛山, by the secretariat through the reports module
    fs = io.BytesIO()
    write_sub_delegation(session, fs, actor=world3.secretariat, sub="FS", lang="zh")
    assert_orgs(fs, expected_orgs(SECRETARIAT_ORGS[1:]))
    assert_persons(fs, expected_persons(SECRETARIAT_PERSONS[1:2], NAMES))

    # What was exported is what the database holds (no digit lost on the way in either)
    stored = dict(session.execute(select(Person.id_number, Person.mobile)).all())
    assert set(stored) == set(gz_persons) | {ID_SZ, "0012345"}
    assert stored["01234567"] == "18600186000" and stored[ID_X] == "13800138000"


def test_an_exported_workbook_reads_like_an_import_file(session, world3):
    """The export's 单位 and 参观人员 sheets carry the template's headers: imported again, the rows are found and
    refused only as registered already (no header, type or format problem)."""
    import_both(session, world3)
    gz = io.BytesIO()
    write_sub_delegation(session, gz, actor=world3.admins["GZ"], sub="GZ", lang="zh")
    again = imported(session, "registration", gz.getvalue(), world3.admins["GZ"], filename="广州交易分团.xlsx",
                     dry_run=True)
    assert again.rows_read == 3 + 7
    assert set(kinds(again)) == {"duplicate_db"}, [p.text("zh") for p in again.problems]


# --------------------------------------------------------------------------------------------------
# Quota dashboard: totals against the tables
# --------------------------------------------------------------------------------------------------

def direct_counts(session, sub_ids) -> dict:
    """The dashboard's figures over these sub-delegations, counted with plain SQL over the rows."""
    live = Organization.deleted_at.is_(None)
    in_subs = Organization.sub_delegation_id.in_(sub_ids)
    registered = session.scalar(select(func.count()).select_from(Organization).where(
        in_subs, live, Organization.state.not_in([OrgState.DRAFT.value, OrgState.REJECTED.value])))
    approved = session.scalar(select(func.count()).select_from(Organization).where(
        in_subs, live, Organization.state == OrgState.APPROVED.value))
    persons = session.scalar(select(func.count()).select_from(Person).join(
        Organization, Organization.id == Person.organization_id).where(Person.sub_delegation_id.in_(sub_ids), live))

    def holding(label):
        # VIP and staff hold quota slots whatever becomes of their organisation; professional visitors hold
        # none and are counted like 参观人员, deleted organisations' left out.
        query = select(func.count()).select_from(Person).join(Organization, Organization.id == Person.organization_id)
        if label == "professional":
            query = query.where(live)
        return session.scalar(query.where(Person.sub_delegation_id.in_(sub_ids), Person.label == label,
                                          Person.state.not_in(["cancelled", "review_failed"])))

    copay = session.scalar(select(func.coalesce(func.sum(Person.copay_amount), 0)).where(
        Person.sub_delegation_id.in_(sub_ids), Person.copay == "confirmed"))
    subs = session.scalars(select(SubDelegation).where(SubDelegation.id.in_(sub_ids))).all()
    return {"招商任务（家）": sum(s.recruitment_target for s in subs), "已报名单位": registered, "审核通过单位": approved,
            "参观人员": persons, "专业观众": holding("professional"), "VIP已用": holding("vip"),
            "VIP额度": sum(s.vip_quota for s in subs), "工作人员已用": holding("staff"),
            "工作人员额度": sum(s.staff_quota for s in subs), "统付已用（元）": Decimal(str(copay)),
            "统付额度（元）": sum((Decimal(str(s.copay_budget)) for s in subs), Decimal(0))}


def test_quota_dashboard_totals_equal_counts_from_the_database(session, world3):
    world3.subs["GZ"].recruitment_target, world3.subs["SZ"].recruitment_target = 400, 360
    world3.subs["GZ"].copay_budget = Decimal("10000")
    import_both(session, world3)
    ids = org_ids(session)
    gz, sec = world3.admins["GZ"], world3.secretariat
    ops.submit_organizations(session, [ids[BAIYUN], ids[HOSPITAL], ids[QIANHAI]], actor=sec)
    ops.approve_organizations(session, [ids[BAIYUN], ids[HOSPITAL]], actor=gz)
    ops.approve_organizations(session, [ids[BAIYUN], ids[QIANHAI]], actor=sec)
    ops.reject_organizations(session, [ids[HOSPITAL]], actor=sec, reason="非采购单位")
    persons = dict(session.execute(select(Person.id_number, Person.id)).all())
    ops.submit_persons(session, [persons["H01234567"], persons["01234567"], persons[ID_SZ]], actor=sec)
    assert ops.confirm_copay(session, [persons["H01234567"], persons[ID_SZ]], actor=sec).done
    ops.cancel_persons(session, [persons[ID_X]], actor=gz, reason="行程取消")  # the VIP slot is free again
    ops.delete_organizations(session, [ids[TAOCI]], actor=sec)
    session.commit()

    out = io.BytesIO()
    write_quota_dashboard(session, out, actor=sec, lang="zh")
    sheet = typed(out).worksheets[0]
    rows = records(sheet)
    body, totals = rows[:-1], rows[-1]
    assert [r["交易分团"] for r in body] == ["广州交易分团", "深圳交易分团", "佛山交易分团"] and totals["交易分团"] == "合计"
    for row, sub in zip(body, world3.subs.values()):
        for column, value in direct_counts(session, [sub.id]).items():
            assert Decimal(str(row[column])) == value, (sub.code, column, row[column], value)
    everything = direct_counts(session, [s.id for s in world3.subs.values()])
    for column, value in everything.items():
        assert Decimal(str(totals[column])) == value, ("合计", column, totals[column], value)
    assert everything["统付已用（元）"] > 0 and everything["审核通过单位"] == 2 and everything["VIP已用"] == 0
    assert totals["完成率"] == pytest.approx(2 / (400 + 360 + 100))
    assert sheet.cell(len(rows) + 1, 1).font.b  # the totals row stands out
    # the sub-delegation admin's dashboard: their row and a totals row that is theirs
    mine = io.BytesIO()
    write_quota_dashboard(session, mine, actor=gz, lang="zh")
    rows = records(typed(mine).worksheets[0])
    assert [r["交易分团"] for r in rows] == ["广州交易分团", "合计"]
    assert rows[1]["参观人员"] == rows[0]["参观人员"] == direct_counts(session, [world3.subs["GZ"].id])["参观人员"]


# --------------------------------------------------------------------------------------------------
# Weekly progress of a past week, against the audit log
# --------------------------------------------------------------------------------------------------

def utc(day: int, hour: int = 2, minute: int = 0) -> datetime:
    """A UTC time in September 2025 (Beijing is 8 hours ahead)."""
    return datetime(2025, 9, day, hour, minute, tzinfo=timezone.utc)


def audit_counts(session, week: str, sub_ids: dict[str, int]) -> dict[str, tuple[int, int]]:
    """{code: (registered, approved)} at the end of an ISO week (Sunday 24:00 in Beijing), replayed here from the
    audit log: an organisation's state is the last to_state logged before then; a deletion hides it until restored."""
    end = datetime.combine(parse_week(week) + timedelta(days=7), time(), tzinfo=timezone(timedelta(hours=8)))
    state, deleted, where = {}, {}, {}
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.object_type == "organization")
                                 .order_by(AuditEntry.at, AuditEntry.id)):
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=timezone.utc)
        if at >= end:
            continue
        state[entry.object_id] = entry.to_state or state.get(entry.object_id)
        where[entry.object_id] = entry.sub_delegation_id or where.get(entry.object_id)
        if entry.action in ("organization.deleted", "organization.restored"):
            deleted[entry.object_id] = entry.action == "organization.deleted"
    counts = {code: [0, 0] for code in sub_ids}
    code_of = {sub_id: code for code, sub_id in sub_ids.items()}
    for org, st in state.items():
        if deleted.get(org) or st is None:
            continue
        code = code_of[where[org]]
        counts[code][0] += st not in ("draft", "rejected")
        counts[code][1] += st == "approved"
    return {code: tuple(n) for code, n in counts.items()}


def test_weekly_progress_of_a_past_week_equals_the_audit_log(session, world3):
    gz, sec = world3.admins["GZ"], world3.secretariat
    # 2025-W36: the admin's file (Tuesday); 2025-W37: the secretariat's file
    import_both(session, world3, gz_at=utc(2), secretariat_at=utc(9))
    ids = org_ids(session)
    ops.submit_organizations(session, [ids[BAIYUN], ids[HOSPITAL]], actor=gz, now=utc(10))
    ops.approve_organizations(session, [ids[BAIYUN]], actor=gz, now=utc(11))
    # 2025-W38: approvals, a rejection, a deletion; a submission on Sunday at 23:50 in Beijing
    ops.approve_organizations(session, [ids[BAIYUN]], actor=sec, now=utc(15))
    ops.submit_organizations(session, [ids[QIANHAI], ids[TAOCI]], actor=sec, now=utc(16))
    ops.reject_organizations(session, [ids[HOSPITAL]], actor=gz, reason="非采购单位", now=utc(17))
    ops.delete_organizations(session, [ids[TAOCI]], actor=sec, now=utc(18))
    ops.submit_organizations(session, [ids[ZHUJIANG]], actor=gz, now=utc(21, 15, 50))
    # 2025-W39 (from Sunday 16:00 UTC): the approval ten minutes after midnight in Beijing belongs to W39
    ops.approve_organizations(session, [ids[QIANHAI]], actor=sec, now=utc(21, 16, 10))
    ops.restore_organizations(session, [ids[TAOCI]], actor=sec, now=utc(23))
    session.commit()

    sub_ids = {code: sub.id for code, sub in world3.subs.items()}
    w37, w38 = audit_counts(session, "2025-W37", sub_ids), audit_counts(session, "2025-W38", sub_ids)
    assert w38 == {"GZ": (2, 1), "SZ": (1, 0), "FS": (0, 0)} and w37 == {"GZ": (2, 0), "SZ": (0, 0), "FS": (0, 0)}
    out = io.BytesIO()
    write_weekly_progress(session, out, actor=sec, lang="zh", week="2025-W38")
    book = typed(out)
    assert book.sheetnames[0] == "周进度 2025-W38"
    rows = records(book.worksheets[0])
    body, totals = rows[:-1], rows[-1]
    assert [r["交易分团"] for r in body] == ["广州交易分团", "深圳交易分团", "佛山交易分团"]
    for row, code in zip(body, sub_ids):
        assert (row["已报名单位（周末）"], row["审核通过单位（周末）"]) == w38[code], code
        assert row["已报名较上周"] == w38[code][0] - w37[code][0], code
        assert row["审核通过较上周"] == w38[code][1] - w37[code][1], code
    assert totals["交易分团"] == "合计"
    assert totals["已报名单位（周末）"] == sum(n for n, _ in w38.values())
    assert totals["审核通过单位（周末）"] == sum(n for _, n in w38.values())
    assert totals["审核通过较上周"] == sum(n for _, n in w38.values()) - sum(n for _, n in w37.values())
    series = {r["周次"]: r for r in records(book.worksheets[1])}
    assert list(series) == ["2025-W36", "2025-W37", "2025-W38"]
    for week in series:
        counts = audit_counts(session, week, sub_ids)
        assert (series[week]["已报名单位"], series[week]["审核通过单位"]) == (
            sum(n for n, _ in counts.values()), sum(n for _, n in counts.values())), week
    # the week after, reported now, is the audit log too
    rows, _, _ = weekly_rows(session, sec, parse_week("2025-W39"))
    assert {r["sub"].code: (r["registered"], r["approved"]) for r in rows} == audit_counts(session, "2025-W39",
                                                                                           sub_ids)


# --------------------------------------------------------------------------------------------------
# Masking, scope, formula-like text
# --------------------------------------------------------------------------------------------------

def test_a_viewers_export_masks_id_numbers_and_mobiles(session, world3, cli, tmp_path):
    import_both(session, world3)
    out = io.BytesIO()
    write_sub_delegation(session, out, actor=world3.viewer, sub="GZ", lang="zh")
    path = tmp_path / "viewer.xlsx"
    result = cli("sub-delegation", "--sub-delegation", "GZ", "--out", str(path), "--as", world3.viewer.username)
    assert result.exit_code == 0, result.output
    for source in (out, path):
        text = package_text(source)
        persons = frames(source)["参观人员"].set_index("姓名")
        for row in GZ_PERSONS + SECRETARIAT_PERSONS[2:]:
            number, mobile = row["证件号码"].upper(), PERSONS_EXPECTED[row["证件号码"].upper()].get("手机", row["手机"])
            shown = persons.loc[row["姓名"], "证件号码"]
            assert number not in text and "*" in shown and shown != number, (row["姓名"], shown)
            assert shown == mask(number) and len(shown) == len(number)
            if mobile:
                assert mobile not in text and persons.loc[row["姓名"], "手机"] == mobile[:3] + "****" + mobile[-4:]
            assert len(persons.loc[row["姓名"], "出生日期"]) == 4  # the year only
        assert persons.loc["欧阳娜娜", "证件号码"] == "440***********004X"
        for mobile in ("13800138000", "13912345678", "15000150000"):  # contact mobiles
            assert mobile not in text
        assert set(frames(source)["单位"]["联系人手机"]) == {"138****8000", "139****5678", "150****0000"}


def test_a_sub_delegation_admin_gets_only_their_own_sub_delegation(session, world3, cli, tmp_path):
    import_both(session, world3)
    admin = world3.admins["GZ"]
    with pytest.raises(NotFound, match="不在您的权限范围内"):
        write_sub_delegation(session, io.BytesIO(), actor=admin, sub="SZ")
    refused = tmp_path / "sz.xlsx"
    result = cli("sub-delegation", "--sub-delegation", "SZ", "--out", str(refused), "--as", admin.username)
    assert result.exit_code == 1 and "不在您的权限范围内" in result.output and not refused.exists()
    # --all: only theirs
    written = run_export(session.get_bind(), "sub-delegation", str(tmp_path / "all.zip"), actor=admin, every=True,
                         processes=1)
    with zipfile.ZipFile(written.files[0]) as archive:
        assert archive.namelist() == ["广州交易分团-GZ.xlsx"]
        mine = io.BytesIO(archive.read("广州交易分团-GZ.xlsx"))
    text = package_text(mine)
    for other in SECRETARIAT_ORGS:
        assert other["单位名称"] not in text and other["统一社会信用代码"] not in text
    assert ID_SZ not in text and "深圳交易分团" not in text and "佛山交易分团" not in text
    assert set(frames(mine)["单位"]["交易分团"]) == {"广州交易分团"}
    assert len(frames(mine)["参观人员"]) == 7  # the person the secretariat added to a 广州 organisation too


FORMULA_LIKE = {"单位名称": '=HYPERLINK("http://example.cn","点击领奖")', "联系人": "-张三", "采购意向": "@SUM(A1:A9)"}
PERSON_FORMULA_LIKE = {"姓名": "=1+1", "职务": "+86经理"}


def test_formula_like_cells_come_back_as_text(session, world3):
    code = make_uscc(2_024_009, "440101")
    org = {"单位名称": FORMULA_LIKE["单位名称"], "统一社会信用代码": code, "单位类别": "企业", "交易分团": "GZ",
           "联系人": FORMULA_LIKE["联系人"], "联系人手机": "13800138000", "联系人邮箱": "",
           "采购意向": FORMULA_LIKE["采购意向"]}
    person = {"统一社会信用代码": code, "姓名": "=1+1", "性别": "", "人员类型": "", "证件类型": "居民身份证",
              "证件号码": ID_PLAIN, "出生日期": "", "手机": "", "邮箱": "", "职务": "+86经理", "人员标签": "",
              "入场日期": "", "领取方式": ""}
    result = imported(session, "registration", registration([org], [person]), world3.admins["GZ"])
    assert result.ok, [p.text("zh") for p in result.problems]
    out = io.BytesIO()
    write_sub_delegation(session, out, actor=world3.admins["GZ"], sub="GZ", lang="zh")
    assert "<f>" not in package_text(out)  # not a formula anywhere
    book = typed(out)
    orgs, persons = records(book["单位"]), records(book["参观人员"])
    assert {k: orgs[0][k] for k in FORMULA_LIKE} == FORMULA_LIKE
    assert {k: persons[0][k] for k in PERSON_FORMULA_LIKE} == PERSON_FORMULA_LIKE
    assert persons[0]["单位名称"] == FORMULA_LIKE["单位名称"]
    for sheet, wanted in ((book["单位"], FORMULA_LIKE), (book["参观人员"], {**PERSON_FORMULA_LIKE,
                                                                         "单位名称": FORMULA_LIKE["单位名称"]})):
        cells = [c for c in sheet[2] if c.value in wanted.values()]
        assert len(cells) == len(wanted) and all(c.data_type == "s" and c.quotePrefix for c in cells)
    assert frames(out)["单位"].loc[0, "单位名称"] == FORMULA_LIKE["单位名称"]
    # the error report of a refused file keeps such cells as text too
    bad = dict(person, 证件号码=ID_PLAIN[:-1] + ("0" if ID_PLAIN[-1] != "0" else "1"))
    refused = imported(session, "registration", registration([dict(org, 统一社会信用代码=make_uscc(2_024_010))],
                                                             [dict(bad, 统一社会信用代码=make_uscc(2_024_010))]),
                       world3.admins["GZ"])
    assert kinds(refused) == {"invalid": 1}
    assert "<f>" not in package_text(io.BytesIO(refused.report))
    report = typed(io.BytesIO(refused.report))
    assert report["单位"]["A2"].value == FORMULA_LIKE["单位名称"] and report["单位"]["A2"].data_type == "s"
