"""Importers: the shared reader's refusals, recruitment targets, quota allocations, review results, payment statements.

Every import runs through importers.run_import on SQLite and PostgreSQL; files are built in code. A file with
any error writes nothing: the tests compare the row counts of every table before and after.
"""
from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import func, select

import models
from factories import audit_entries, make_organization, make_person, make_uscc
from importer_files import csv_bytes, resident_id, xlsx
from importers import IMPORTERS, run_import
from importers.templates import template
from models import (NotAllowed, Order, Organization, OrgState, Payment, Person, PersonState, QuotaAllocation,
                    SubDelegation)
from models.finance import operations as fin
from models.registration.operations import create_organization

TARGETS_HEADER = ["序号", "成员单位", "组织采购商（家数）"]
QUOTA_HEADER = ["统一社会信用代码", "单位名称", "VIP额度", "工作人员额度"]
REVIEW_HEADER = ["证件号码", "审核结果", "备注"]
PAYMENT_HEADER = ["订单号", "支付方式", "金额", "交易流水号", "支付时间"]


def table_counts(session) -> dict[str, int]:
    """Rows of every table, read fresh: a refused file must leave each count as it was."""
    session.expire_all()
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in models.Base.metadata.sorted_tables}


def imported(session, kind, data, actor, filename="data.xlsx", **kw):
    """run_import with the world committed first (the importer owns the transaction and rolls back on errors)."""
    session.commit()
    return run_import(session, kind, data, filename, actor=actor, **kw)


def kinds(result) -> dict[str, int]:
    return dict(result.errors_by_kind())


def seed_table(world, total="=SUM(C3:C4)", gz=400, sz=360) -> bytes:
    """The seed's 招商工作任务分解表 as Excel has it: a merged title, the header, the rows, a merged 合 计 row."""
    rows = [["进口博览会广东交易团招商工作任务分解表"], TARGETS_HEADER, [1, world.subs["GZ"].name, gz],
            [2, world.subs["SZ"].name, sz], ["合 计", None, total]]
    return xlsx({"Sheet1": rows}, merges={"Sheet1": ["A1:C1", "A5:B5"]})


# --------------------------------------------------------------------------------------------------
# The reader: what cannot be imported, and what is tolerated
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, words", [
    (b"", "文件为空"),
    (b"PK\x03\x04" + b"\x00" * 200, "已损坏"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, ".xls"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "文件类型不支持"),
    (b"\xff\xfe\xfd\x81\x30\x81", "无法识别文件编码"),
])
def test_unreadable_files_are_refused_with_a_sentence(session, world, data, words):
    result = imported(session, "targets", data, world.secretariat, filename="upload.csv")
    assert not result.ok and kinds(result) == {"file": 1}
    assert words in result.problems[0].text("zh") and result.problems[0].text("en").isascii()
    assert result.report is not None  # a summary-only report


def test_a_zip_that_is_not_a_workbook_and_an_xlsx_that_is_text(session, world):
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("word/document.xml", "<x/>")
    assert "不是 Excel 工作簿" in imported(session, "targets", archive.getvalue(), world.secretariat).problems[0].text("zh")
    text = imported(session, "targets", b"a,b\n1,2\n", world.secretariat, filename="t.xlsx")
    assert "内容不是 Excel 工作簿" in text.problems[0].text("zh")


def test_missing_headers_missing_sheets_and_empty_sheets(session, world):
    missing = imported(session, "targets", xlsx({"S": [["序号", "成员单位"], [1, "x"]]}), world.secretariat)
    assert kinds(missing) == {"header": 1} and "组织采购商（家数）" in missing.problems[0].text("zh")
    assert "Purchasing organisations" in missing.problems[0].text("en")
    nothing = imported(session, "targets", xlsx({"S": [["随便"], ["什么"]]}), world.secretariat)
    assert "未找到表头行" in nothing.problems[0].text("zh")
    empty = imported(session, "targets", xlsx({"S": []}), world.secretariat)
    assert "没有数据" in empty.problems[0].text("zh")
    header_only = imported(session, "targets", xlsx({"S": [TARGETS_HEADER]}), world.secretariat)
    assert "没有数据行" in header_only.problems[0].text("zh")
    one_sheet = imported(session, "registration", xlsx({"单位": [["单位名称"]]}), world.secretariat)
    assert kinds(one_sheet) == {"sheet": 1} and "缺少工作表「人员」" in one_sheet.problems[0].text("zh")
    duplicate = imported(session, "targets", xlsx({"S": [TARGETS_HEADER + ["序号"], [1, "x", 2, 3]]}),
                         world.secretariat)
    assert "出现了不止一次" in duplicate.problems[0].text("zh")


def test_headers_tolerate_full_width_characters_spaces_and_english(session, world):
    rows = [[" 序 号 ", "成员单位　", "组织采购商(家数)"], [1, world.subs["GZ"].name, 401]]
    assert imported(session, "targets", xlsx({"S": rows}), world.secretariat).ok
    english = [["No.", "Member unit", "Purchasing organisations"], [1, world.subs["GZ"].name, 402]]
    assert imported(session, "targets", xlsx({"S": english}), world.secretariat).ok
    assert session.get(SubDelegation, world.subs["GZ"].id).recruitment_target == 402


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_with_and_without_bom_and_gbk(session, world, encoding):
    data = csv_bytes([TARGETS_HEADER, [1, world.subs["GZ"].name, 123]], encoding)
    result = imported(session, "targets", data, world.secretariat, filename="targets.csv")
    assert result.ok, [p.text("zh") for p in result.problems]
    assert session.get(SubDelegation, world.subs["GZ"].id).recruitment_target == 123


def test_hidden_sheet_with_the_data_is_refused_and_others_are_noted(session, world):
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, 5]]
    refused = imported(session, "targets", xlsx({"说明": [["请填写"]], "数据": rows}, hidden=("数据",)),
                       world.secretariat)
    assert kinds(refused) == {"hidden_sheet": 1} and "隐藏" in refused.problems[0].text("zh")
    noted = imported(session, "targets", xlsx({"数据": rows, "草稿": [["x"]]}, hidden=("草稿",)), world.secretariat)
    assert noted.ok and any("隐藏的工作表「草稿」未导入" in line for line in noted.summary("zh"))


def test_the_seed_table_with_merged_title_and_total_imports(session, world):
    # openpyxl stores no value for a formula: the total row's formula is tolerated but its value is missing.
    assert kinds(imported(session, "targets", seed_table(world), world.secretariat)) == {"required": 1}
    result = imported(session, "targets", seed_table(world, total=760), world.secretariat)
    assert result.ok and result.rows_read == 2 and result.rows_valid == 2
    assert [s.recruitment_target for s in (session.get(SubDelegation, world.subs[c].id) for c in ("GZ", "SZ"))] == \
        [400, 360]
    assert len(audit_entries(session, "sub_delegation", action="sub_delegation.edited")) == 2


def test_total_that_does_not_add_up_is_an_error_at_the_total_row(session, world):
    before = table_counts(session)
    result = imported(session, "targets", seed_table(world, total=3500), world.secretariat)
    assert kinds(result) == {"total": 1}
    problem = result.problems[0]
    assert problem.row == 4 and "合计 3500 与各行之和 760 不符" in problem.text("zh")
    assert table_counts(session) == before


def test_formula_and_merged_cells_in_data_rows_are_refused(session, world):
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, "=10*40"], [2, world.subs["SZ"].name, 3], [3, None, 4]]
    result = imported(session, "targets", xlsx({"S": rows}, merges={"S": ["B3:B4"]}), world.secretariat)
    found = kinds(result)
    assert found["formula"] == 1 and found["merged"] >= 1
    texts = " ".join(p.text("zh") for p in result.problems)
    assert "选择性粘贴" in texts and "B3:B4 是合并单元格" in texts


def test_numbers_where_codes_must_be_text_and_date_serials_are_refused(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    number = resident_id(7)
    make_person(session, org, state=PersonState.PENDING_REVIEW, id_type="resident_id", id_number=number)
    rows = [REVIEW_HEADER, [int(number[:-1] + "0"), "通过", ""]]
    result = imported(session, "review", xlsx({"S": rows}), world.secretariat)
    assert kinds(result) == {"number_stored": 1}, [p.text("zh") for p in result.problems]
    assert "15 位有效数字" in result.problems[0].text("zh") and "15 significant digits" in result.problems[0].text("en")
    payment = imported(session, "payments", xlsx({"S": [PAYMENT_HEADER, ["V1", "支付宝", 200, "R1", 45931]]}),
                       world.finance)
    assert kinds(payment) == {"excel_serial": 1}, [p.text("zh") for p in payment.problems]
    assert "2025-10-01" in payment.problems[0].text("zh")
    scientific = imported(session, "quotas", csv_bytes([QUOTA_HEADER, ["9.14401E+17", "x", 1, 1]]),
                          world.admins["GZ"], filename="q.csv")
    assert kinds(scientific) == {"number_stored": 1}, [p.text("zh") for p in scientific.problems]
    assert "科学计数法" in scientific.problems[0].text("zh")


def test_role_that_may_not_import_a_kind_is_refused(session, world):
    with pytest.raises(NotAllowed):
        imported(session, "targets", seed_table(world, total=760), world.admins["GZ"])
    with pytest.raises(NotAllowed):
        imported(session, "payments", b"x", world.viewer)


def test_error_report_highlights_the_cells_and_says_why(session, world):
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, "很多"], [2, "无此分团", 3]]
    result = imported(session, "targets", xlsx({"任务": rows}), world.secretariat, lang="en")
    book = openpyxl.load_workbook(io.BytesIO(result.report))
    assert book.sheetnames == ["Summary", "任务"]
    sheet = book["任务"]
    assert sheet["D1"].value == "Errors"
    assert "whole number" in sheet["D2"].value and "There is no sub-delegation 无此分团" in sheet["D3"].value
    assert sheet["C2"].fill.fgColor.rgb.endswith("FFC7CE") and sheet["B3"].fill.fgColor.rgb.endswith("FFC7CE")
    assert sheet["A2"].fill.fgColor.rgb in (None, "00000000")
    summary = book["Summary"]
    assert [c.value for c in summary[3]][:2] == ["Rows read", 2]
    assert any(row[0].value == "Invalid value" for row in summary.iter_rows())


def test_dry_run_writes_nothing(session, world):
    before = table_counts(session)
    result = imported(session, "targets", seed_table(world, total=760), world.secretariat, dry_run=True)
    assert result.ok and not result.written and "试运行" in result.summary("zh")[-1]
    assert table_counts(session) == before


def test_templates_have_headers_samples_dropdowns_and_text_columns(session, world):
    for importer in IMPORTERS.values():
        book = openpyxl.load_workbook(io.BytesIO(template(importer, "zh", importer.choices(session, world.secretariat))))
        for spec in importer.sheets:
            sheet = book[spec.zh]
            assert [c.value for c in sheet[1]] == [c.zh for c in spec.columns]
            assert any(c.value for c in sheet[2])  # the sample row
            enumerated = [c for c in spec.columns if c.choices or (c.field == "sub")]
            assert len(sheet.data_validations.dataValidation) >= len(enumerated)
            for i, column in enumerate(spec.columns):
                if column.kind == "code":
                    letter = openpyxl.utils.get_column_letter(i + 1)
                    assert sheet.column_dimensions[letter].number_format == "@", (spec.zh, column.zh)


def test_a_template_filled_in_imports(session, world):
    importer = IMPORTERS["targets"]
    book = openpyxl.load_workbook(io.BytesIO(template(importer)))
    book["招商任务"]["B2"] = world.subs["GZ"].name
    book["招商任务"]["D2"] = None
    book["招商任务"]["E2"] = None
    out = io.BytesIO()
    book.save(out)
    assert imported(session, "targets", out.getvalue(), world.secretariat).ok


def test_new_member_unit_is_created_with_code_and_kind(session, world):
    rows = [TARGETS_HEADER + ["代码", "类型"], [1, world.subs["GZ"].name, 400, "", ""], [27, "省商务厅", 50, "swt", "省直单位分团"]]
    result = imported(session, "targets", xlsx({"S": rows}), world.secretariat)
    assert result.ok, [p.text("zh") for p in result.problems]
    created = session.scalar(select(SubDelegation).where(SubDelegation.code == "swt"))
    assert created.name == "省商务厅" and created.recruitment_target == 50 and created.seq == 27


# --------------------------------------------------------------------------------------------------
# Quota allocations
# --------------------------------------------------------------------------------------------------

def test_quota_preallocation_is_applied_when_the_organisation_registers(session, world):
    uscc = make_uscc()
    result = imported(session, "quotas", xlsx({"S": [QUOTA_HEADER + ["交易分团"], [uscc, "预分配单位", 3, 5, "GZ"]]}),
                      world.secretariat)
    assert result.ok, [p.text("zh") for p in result.problems]
    allocation = session.scalar(select(QuotaAllocation).where(QuotaAllocation.uscc == uscc))
    assert (allocation.vip_quota, allocation.staff_quota) == (3, 5)
    org = create_organization(session, {"sub_delegation_id": world.subs["GZ"].id, "name": "预分配单位", "uscc": uscc,
                                        "category": "enterprise", "purchase_intentions": "食品", "vip_quota": 0,
                                        "staff_quota": 0}, actor=world.admins["GZ"])
    assert (org.vip_quota, org.staff_quota) == (3, 5)
    elsewhere = create_organization(session, {"sub_delegation_id": world.subs["SZ"].id, "name": "别处", "uscc": make_uscc(),
                                              "category": "enterprise", "purchase_intentions": "食品"},
                                    actor=world.secretariat)
    assert (elsewhere.vip_quota, elsewhere.staff_quota) == (0, 0)


def test_quotas_upsert_update_registered_organisations_and_stay_within_the_sub_delegation(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota, gz.staff_quota = 10, 10
    registered = make_organization(session, gz, vip_quota=0, staff_quota=0)
    first, second = make_uscc(), make_uscc()
    rows = [QUOTA_HEADER, [first, "甲", 2, 2], [registered.uscc, registered.name, 3, 1]]
    result = imported(session, "quotas", xlsx({"S": rows}), world.admins["GZ"])  # one sub-delegation: no column
    assert result.ok, [p.text("zh") for p in result.problems]
    assert dict((label[0], n) for label, n in result.counts) == {"新增预分配": 2, "修改预分配": 0,
                                                                 "已注册单位的额度已更新": 1}
    assert (session.get(Organization, registered.id).vip_quota, session.get(Organization, registered.id).staff_quota) \
        == (3, 1)
    again = imported(session, "quotas", xlsx({"S": [QUOTA_HEADER, [first, "甲", 4, 2]]}), world.admins["GZ"])
    assert again.ok and dict((label[0], n) for label, n in again.counts)["修改预分配"] == 1
    before = table_counts(session)
    over = imported(session, "quotas", xlsx({"S": [QUOTA_HEADER, [second, "乙", 5, 0], [first, "甲", 4, 2]]}),
                    world.admins["GZ"])
    assert kinds(over) == {"refused": 1} and "最多还可分配" in over.problems[0].text("zh")
    assert over.problems[0].row == 1
    assert table_counts(session) == before


def test_quota_rows_outside_the_admins_scope_and_duplicates_are_refused(session, world):
    uscc = make_uscc()
    rows = [QUOTA_HEADER + ["交易分团"], [uscc, "甲", 1, 1, world.subs["SZ"].name], [uscc, "甲", 1, 1, "GZ"],
            ["91440101MA59ABCD1Y", "坏", 1, 1, "GZ"]]
    result = imported(session, "quotas", xlsx({"S": rows}), world.admins["GZ"])
    assert kinds(result) == {"scope": 1, "invalid": 1}, [p.text("zh") for p in result.problems]
    assert "不存在或不在您的权限范围内" in " ".join(p.text("zh") for p in result.problems)
    registered = make_organization(session, world.subs["SZ"])
    other = imported(session, "quotas", xlsx({"S": [QUOTA_HEADER, [registered.uscc, "x", 1, 1]]}), world.admins["GZ"])
    assert kinds(other) == {"scope": 1} and "其他交易分团" in other.problems[0].text("zh")


# --------------------------------------------------------------------------------------------------
# Background-review results
# --------------------------------------------------------------------------------------------------

def review_world(session, world, n=3):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    return [make_person(session, org, state=PersonState.PENDING_REVIEW, id_type="resident_id",
                        id_number=resident_id(k)) for k in range(n)]


def test_review_results_pass_and_fail_through_the_workflow(session, world):
    persons = review_world(session, world)
    numbers = [p.id_number for p in persons]
    ids = [p.id for p in persons]
    rows = [REVIEW_HEADER, [numbers[0], "通过", ""], [numbers[1].lower(), "不通过", "背审未通过"], [numbers[2], "审核通过", None]]
    result = imported(session, "review", xlsx({"S": rows}), world.secretariat)
    assert result.ok, [p.text("zh") for p in result.problems]
    states = [session.get(Person, i).state for i in ids]
    assert states == [PersonState.APPROVED, PersonState.REVIEW_FAILED, PersonState.APPROVED]
    assert session.get(Person, ids[1]).review_note == "背审未通过"
    assert len(audit_entries(session, "person", action="person.review_passed")) == 2
    again = imported(session, "review", xlsx({"S": rows}), world.secretariat)
    assert kinds(again) == {"state": 3} and "不是「待审核」" in again.problems[0].text("zh")


def test_review_row_errors_change_nothing(session, world):
    persons = review_world(session, world, 2)
    before = table_counts(session)
    rows = [REVIEW_HEADER, [persons[0].id_number, "通过", ""], [persons[1].id_number, "不通过", ""],
            ["11010519491231002X", "通过", ""], [persons[0].id_number, "通过", ""], [persons[1].id_number, "也许", ""]]
    result = imported(session, "review", xlsx({"S": rows}), world.secretariat)
    assert kinds(result) == {"required": 1, "not_found": 1, "duplicate_file": 1, "invalid": 1}
    assert table_counts(session) == before
    assert session.get(Person, persons[0].id).state is PersonState.PENDING_REVIEW


# --------------------------------------------------------------------------------------------------
# Payment statements
# --------------------------------------------------------------------------------------------------

def unpaid_order(session, world, n=2) -> Order:
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    ids = [make_person(session, org, state=PersonState.PENDING_PAYMENT).id for _ in range(n)]
    batch = fin.create_orders(session, ids, actor=world.admins["GZ"])
    return session.get(Order, batch.order_ids[0])


def test_payment_statement_records_once_and_again_records_nothing(session, world):
    first, second = unpaid_order(session, world), unpaid_order(session, world, 1)
    rows = [PAYMENT_HEADER, [first.number, "扫码支付（支付宝）", float(first.total_amount), "2025100122001", "2025-10-01 12:00:00"],
            [second.number, "B2B", str(second.total_amount), "B2B-778899", datetime(2025, 10, 2, 9, 30)]]
    data = xlsx({"对账单": rows})
    result = imported(session, "payments", data, world.finance)
    assert result.ok, [p.text("zh") for p in result.problems]
    assert dict((label[0], n) for label, n in result.counts) == {"新记录支付": 2, "已记录过（未重复记账）": 0}
    assert session.get(Order, first.id).state.value == "paid"
    again = imported(session, "payments", data, world.finance)
    assert again.ok and dict((label[0], n) for label, n in again.counts) == {"新记录支付": 0, "已记录过（未重复记账）": 2}
    assert session.scalar(select(func.count()).select_from(Payment)) == 2


def test_payment_amount_mismatch_unknown_order_and_duplicates_are_row_errors(session, world):
    order = unpaid_order(session, world)
    before = table_counts(session)
    rows = [PAYMENT_HEADER, [order.number, "微信", float(order.total_amount) - 1, "W1", "2025-10-01 12:00"],
            ["V0000", "银联", 200, "U1", "2025-10-01 12:00"], [order.number, "转账支付", 200, "T1", "2025-10-01 12:00"],
            [order.number, "微信", 200, "W1", "2025-10-01 12:00"]]
    result = imported(session, "payments", xlsx({"S": rows}), world.finance, lang="en")
    assert kinds(result) == {"amount": 1, "not_found": 1, "invalid": 1, "duplicate_file": 1}
    amount = next(p for p in result.problems if p.kind == "amount")
    assert amount.row == 1 and "相差 1.00 元" in amount.text("zh") and amount.text("en").startswith("Amount does not match")
    assert table_counts(session) == before


def test_amounts_decimals(session, world):
    order = unpaid_order(session, world, 1)
    rows = [PAYMENT_HEADER, [order.number, "支付宝", "200.001", "A1", "2025-10-01 12:00"]]
    assert kinds(imported(session, "payments", xlsx({"S": rows}), world.finance)) == {"invalid": 1}
    assert Decimal("200") == order.total_amount


def test_an_xlsxwriter_workbook_with_typed_cells_reads_as_text(session, world):
    order = unpaid_order(session, world, 1)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("S")
    sheet.write_row(0, 0, PAYMENT_HEADER)
    sheet.write_string(1, 0, order.number)
    sheet.write_string(1, 1, "扫码支付（微信）")
    sheet.write_number(1, 2, 200)
    sheet.write_string(1, 3, "0000123")
    sheet.write_datetime(1, 4, datetime(2025, 10, 1, 8), book.add_format({"num_format": "yyyy-mm-dd hh:mm"}))
    book.close()
    result = imported(session, "payments", out.getvalue(), world.finance)
    assert result.ok, [p.text("zh") for p in result.problems]
    assert session.scalar(select(Payment.reference)) == "0000123"
