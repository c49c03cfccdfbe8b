"""Spreadsheets in and out in a real browser, on the demo data: a sub-delegation admin fills in the downloaded
batch-registration template and imports it, then gets the error report of a file with a bad ID number; the
secretariat downloads the quota dashboard from 报表; a viewer downloads a masked sub-delegation workbook; the
home page shows the quota bars. Every download is opened and read as a person would read it."""
from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from models import Organization, OrgState, Person, SubDelegation
from models.enums import Label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")


def db_rows(live_server, query):
    """Rows read straight from the demo database (outside the browser)."""
    from admin_app.extensions import db
    with live_server.app.app_context():
        rows = db.session.execute(query).all()
        db.session.remove()
    return rows


def uscc(code8: str, region: str = "440106") -> str:
    """A valid USCC (GB 32100) for an enterprise of `region` with an organisation code of 8 characters."""
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in code8]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    body = "91" + region + code8 + {10: "X", 11: "0"}.get(check, str(check))
    return body + stdnum_uscc.calc_check_digit(body)


def resident_id(birth: str, serial: str, county: str = "440106") -> str:
    body = county + birth + serial
    return body + ric.calc_check_digit(body + "0")


def download(page, click, folder: Path) -> Path:
    """Click what starts a download; the file saved under its suggested name, which must be a workbook's."""
    with page.expect_download() as started:
        click()
    name = started.value.suggested_filename
    assert name.endswith(".xlsx"), name
    path = folder / name
    started.value.save_as(path)
    return path


def rows_of(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def fill_template(path: Path, org: dict, persons: list[dict]) -> bytes:
    """The downloaded template with its sample rows replaced by ours, saved as Excel would."""
    book = openpyxl.load_workbook(path)
    for sheet, rows in ((book["单位"], [org]), (book["人员"], persons)):
        headers = [c.value for c in sheet[1]]
        for r, values in enumerate(rows, start=2):
            for c, header in enumerate(headers, start=1):
                cell = sheet.cell(r, c)
                cell.value = values.get(header) or None
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # typed into a text-formatted cell
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(tab, data: bytes, name: str):
    page = tab.page
    page.set_input_files("input[type=file]", files=[{"name": name, "mimeType": XLSX, "buffer": data}])
    page.locator("button[type=submit]", has_text="上传并导入").click()
    page.wait_for_load_state("networkidle")
    result = page.locator(".dd-import-result")
    result.scroll_into_view_if_needed()
    return result


def english_words(text: str) -> list[str]:
    """Latin words on a Chinese page, leaving out what is meant to be Latin (VIP, xlsx, zip, CSV, MB, UTF-8...)."""
    allowed = {"VIP", "Excel", "xlsx", "zip", "CSV", "csv", "MB", "UTF", "GBK", "English", "ISO", "USCC", "ID"}
    return sorted({w for w in re.findall(r"[A-Za-z][A-Za-z_]{2,}", text) if w not in allowed})


# The small valid workbook a 广州 admin fills in: one organisation, two persons (a mainland ID ending in X, a passport).
NEW_USCC = uscc("MA5BRW7K")
ID_X = next(resident_id("19870412", f"{n:03d}") for n in range(100, 200)
            if resident_id("19870412", f"{n:03d}").endswith("X"))
ORG = {"单位名称": "广州浏览器测试进出口有限公司", "统一社会信用代码": NEW_USCC, "单位类别": "企业", "交易分团": "",
       "联系人": "欧阳明", "联系人手机": "13812345678", "联系人邮箱": "ouyang@example.cn", "采购意向": "食品及农产品"}
PERSONS = [
    {"统一社会信用代码": NEW_USCC, "姓名": "欧阳明", "性别": "", "人员类型": "中国大陆地区", "证件类型": "居民身份证",
     "证件号码": ID_X, "出生日期": "1987-04-12", "手机": "13812345678", "邮箱": "", "职务": "总经理",
     "人员标签": "专业观众", "入场日期": "2025-11-05", "领取方式": "快递"},
    {"统一社会信用代码": NEW_USCC, "姓名": "Anna Müller", "性别": "女", "人员类型": "其他国家/地区", "证件类型": "护照",
     "证件号码": "C01X23456", "出生日期": "1979-09-30", "手机": "", "邮箱": "anna@example.de", "职务": "采购经理",
     "人员标签": "专业观众", "入场日期": "", "领取方式": "交易团统一领取"},
]


def test_an_admin_imports_the_filled_in_template_and_sees_the_summary(tab, live_server, tmp_path):
    page = tab.login("guangzhou", "/admin/imports/")
    assert "批量注册" in page.inner_text("body")
    tab.screenshot("spreadsheets-1-import-index")
    page.locator(".dd-importers a", has_text="批量注册").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/admin/imports/registration")
    tab.screenshot("spreadsheets-2-registration-page")

    template = download(page, lambda: page.locator("a.dd-template").click(), tmp_path)
    book = openpyxl.load_workbook(template)
    assert book.sheetnames[:2] == ["单位", "人员"]
    assert [c.value for c in book["单位"][1]][:4] == ["单位名称", "统一社会信用代码", "单位类别", "交易分团"]
    offered = " ".join(v.formula1 or "" for v in book["单位"].data_validations.dataValidation)
    assert "广州" in offered and "深圳" not in offered  # the admin's own sub-delegation only

    result = upload(tab, fill_template(template, ORG, PERSONS), "广州批量注册.xlsx")
    tab.screenshot("spreadsheets-3-import-summary")
    text = result.inner_text()
    assert "读取 3 行，有效 3 行" in text and "注册单位：1" in text and "登记人员：2" in text, text
    assert "导入成功" in page.inner_text("body")
    org = db_rows(live_server, select(Organization.id, Organization.state, SubDelegation.code)
                  .join(SubDelegation, SubDelegation.id == Organization.sub_delegation_id)
                  .where(Organization.uscc == NEW_USCC))
    assert [(state, code) for _, state, code in org] == [(OrgState.DRAFT, "guangzhou")]
    persons = db_rows(live_server, select(Person.id_number, Person.birth_date)
                      .where(Person.organization_id == org[0].id).order_by(Person.id))
    assert persons == [(ID_X, date(1987, 4, 12)), ("C01X23456", date(1979, 9, 30))]
    assert tab.csp_errors() == []


def test_a_bad_id_number_gets_an_error_summary_and_a_highlighted_report(tab, live_server, tmp_path):
    code = uscc("MA5BRW8L")
    bad_id = ID_X[:-1] + "1"  # the check character changed
    org = dict(ORG, 单位名称="广州错误报告测试有限公司", 统一社会信用代码=code)
    persons = [dict(PERSONS[0], 统一社会信用代码=code, 证件号码=resident_id("19900101", "321"), 出生日期=""),
               dict(PERSONS[0], 统一社会信用代码=code, 姓名="错号人", 证件号码=bad_id, 出生日期="")]
    page = tab.login("guangzhou", "/admin/imports/registration")
    template = download(page, lambda: page.locator("a.dd-template").click(), tmp_path)
    result = upload(tab, fill_template(template, org, persons), "有错误的批量注册.xlsx")
    tab.screenshot("spreadsheets-4-import-errors")
    text = result.inner_text()
    assert "文件有错误，未导入任何数据" in text and "居民身份证号码校验位错误" in text, text
    assert "读取 3 行，有效 2 行" in text
    written = select(func.count()).select_from(Organization).where(Organization.uscc == code)
    assert db_rows(live_server, written) == [(0,)]  # nothing was written

    report = openpyxl.load_workbook(download(page, lambda: page.locator("a.dd-report").click(), tmp_path))
    assert report.sheetnames[0] == "错误汇总"
    sheet = report["人员"]
    headers = [c.value for c in sheet[1]]
    id_column, reason_column = headers.index("证件号码") + 1, headers.index("错误原因") + 1
    bad = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, id_column).value == bad_id]
    assert bad == [3]
    cell = sheet.cell(3, id_column)
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")  # highlighted
    assert "居民身份证号码校验位错误" in sheet.cell(3, reason_column).value
    assert not sheet.cell(2, reason_column).value and not sheet.cell(2, id_column).fill.fgColor.rgb.endswith("FFC7CE")
    summary = [c.value for row in report["错误汇总"].iter_rows() for c in row if c.value]
    assert any("校验位错误" in str(v) for v in summary)


def test_the_secretariat_downloads_the_quota_dashboard_from_the_reports_page(tab, live_server, tmp_path):
    page = tab.login("secretariat", "/admin/reports/")
    body = page.inner_text("body")
    tab.screenshot("spreadsheets-5-reports-page")
    assert "配额看板" in body and english_words(body) == [], english_words(body)
    path = download(page, lambda: page.locator("#report-quota-dashboard button[type=submit]").click(), tmp_path)
    rows = rows_of(openpyxl.load_workbook(path).worksheets[0])
    body_rows, totals = rows[:-1], rows[-1]
    assert totals["交易分团"] == "合计" and len(body_rows) == db_rows(
        live_server, select(func.count()).select_from(SubDelegation))[0][0]
    for column in ("招商任务（家）", "已报名单位", "审核通过单位", "参观人员", "VIP已用", "工作人员已用"):
        assert totals[column] == sum(r[column] for r in body_rows), column
    approved = db_rows(live_server, select(func.count()).select_from(Organization).where(
        Organization.state == OrgState.APPROVED.value, Organization.deleted_at.is_(None)))[0][0]
    vip = db_rows(live_server, select(func.count()).select_from(Person).where(
        Person.label == Label.VIP.value, Person.state.not_in(["cancelled", "review_failed"])))[0][0]
    assert (totals["审核通过单位"], totals["VIP已用"]) == (approved, vip)


def test_a_viewer_downloads_a_sub_delegation_workbook_with_id_numbers_masked(tab, live_server, tmp_path):
    page = tab.login("viewer", "/admin/reports/")
    assert "已脱敏" in page.inner_text("body")
    page.select_option("#sub-sub-delegation", value="guangzhou")
    tab.screenshot("spreadsheets-6-viewer-reports")
    path = download(page, lambda: page.locator("#report-sub-delegation button[type=submit]").click(), tmp_path)
    persons = rows_of(openpyxl.load_workbook(path)["参观人员"])
    clear = {n for (n,) in db_rows(live_server, select(Person.id_number).join(
        SubDelegation, SubDelegation.id == Person.sub_delegation_id).where(SubDelegation.code == "guangzhou"))}
    mobiles = {m for (m,) in db_rows(live_server, select(Person.mobile).where(Person.mobile.is_not(None)))}
    assert persons and all("*" in r["证件号码"] for r in persons)
    assert not clear & {r["证件号码"] for r in persons}
    assert not mobiles & {r["手机"] for r in persons if r["手机"]}
    assert all(re.fullmatch(r"1\d\d\*{4}\d{4}", r["手机"]) for r in persons if r["手机"])


def test_the_dashboard_shows_the_quota_bars(tab, live_server):
    page = tab.login("secretariat")
    body = page.inner_text("body")
    tab.screenshot("spreadsheets-7-dashboard")
    assert "各交易分团招商进度" in body and "人员标签与额度、统付额度" in body
    subs = db_rows(live_server, select(func.count()).select_from(SubDelegation))[0][0]
    assert page.locator("table.dd-quotas tbody tr").count() == subs
    assert page.locator("table.dd-quotas .dd-usage .progress-bar").count() == 3 * subs
    page.locator("table.dd-quotas").scroll_into_view_if_needed()
    tab.screenshot("spreadsheets-8-dashboard-quotas")
    assert english_words(body) == [], english_words(body)
    assert not re.search(r"\b(pending_\w+|first_approved|review_failed|badge_\w+)\b", body)
    page = tab.page
    page.context.clear_cookies()
    page = tab.login("guangzhou")
    assert page.locator("table.dd-quotas tbody tr").count() == 1
    tab.screenshot("spreadsheets-9-dashboard-guangzhou")
    assert tab.csp_errors() == []
