"""Issue 10, reports: the five exports read back with pandas (calamine) and openpyxl, on SQLite and PostgreSQL.

Figures are checked against counts taken straight from the database (and, for past weeks, against counts
taken at the end of each week while back-dated operations were played in order); scope, masking,
formula-like text and typed cells; the export command's exit codes.

Round trip with the batch-registration importer (import a file, export the sub-delegation workbook, read
it back): to be added by whoever finishes last of issue 10's importers and reports — the organisation and
person sheets already carry the import template's headers (reports/sub_delegation.py).
"""
from __future__ import annotations

import io
import os
import zipfile
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from factories import export_cli, make_organization, make_person, make_uscc, make_world
from models import (DealIntention, Label, Order, OrderLine, Organization, OrgCategory, OrgState, Payment, Person,
                    PersonState, Refund, RefundState)
from models.errors import InvalidParameter, NotFound
from models.finance import operations as fin
from models.finance.balances import order_money
from models.registration import operations as ops
from reports.catalog import run_export
from reports.deals import write_deal_intentions
from reports.quota import dashboard_rows, write_quota_dashboard
from reports.reconciliation import write_finance
from reports.sub_delegation import write_sub_delegation
from reports.weekly import parse_week, weekly_rows, write_weekly_progress

NOW = datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing, before every payment deadline
# openpyxl reads the data bars' and charts' extensions it does not model with a warning; they are checked as XML.
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
FORMULAS = ("=1+1", "+86 138", "-5", "@SUM(A1)", "\tTAB", "\rCR")


# --------------------------------------------------------------------------------------------------
# Reading workbooks back
# --------------------------------------------------------------------------------------------------

def frames(source) -> dict[str, pd.DataFrame]:
    """Every sheet as text, as an importer would read it."""
    data = source.getvalue() if isinstance(source, io.BytesIO) else open(source, "rb").read()
    return pd.read_excel(io.BytesIO(data), sheet_name=None, engine="calamine", dtype=str)


def typed(source) -> openpyxl.Workbook:
    """The workbook with its cells' types (numbers, dates, strings)."""
    data = source.getvalue() if isinstance(source, io.BytesIO) else open(source, "rb").read()
    return openpyxl.load_workbook(io.BytesIO(data))


def records(sheet) -> list[dict]:
    """An openpyxl sheet's rows as {header: value}."""
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def parts(source) -> dict[str, str]:
    """The xlsx package's XML parts by name."""
    data = source.getvalue() if isinstance(source, io.BytesIO) else open(source, "rb").read()
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name).decode("utf-8") for name in package.namelist() if name.endswith(".xml")}


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------

@pytest.fixture
def rw(session):
    """make_world with the seed's payment deadlines."""
    world = make_world(session)
    world.edition.transfer_deadline = date(2025, 10, 12)
    world.edition.qr_deadline = world.edition.b2b_deadline = date(2025, 10, 15)
    session.flush()
    return world


def populate(session, world) -> dict:
    """Organisations in every state (one deleted), persons by label and state, co-payment, in GZ and SZ."""
    made = {}
    for code, sub in world.subs.items():
        orgs = [make_organization(session, sub, state=state) for state in OrgState]
        orgs += [make_organization(session, sub, state=OrgState.APPROVED) for _ in range(2 if code == "GZ" else 1)]
        deleted = make_organization(session, sub, state=OrgState.SUBMITTED, deleted=True)
        approved = orgs[-1]
        for label, state in ((Label.VIP, PersonState.APPROVED), (Label.VIP, PersonState.CANCELLED),
                             (Label.STAFF, PersonState.PENDING_REVIEW), (Label.PROFESSIONAL, PersonState.SAVED),
                             (Label.PROFESSIONAL, PersonState.REVIEW_FAILED)):
            make_person(session, approved, label=label, state=state)
        make_person(session, approved, label=Label.STAFF, state=PersonState.PENDING_REVIEW, copay="confirmed",
                    copay_amount=Decimal("200"))
        make_person(session, deleted, label=Label.VIP, state=PersonState.APPROVED)  # holds a slot, not listed
        made[code] = {"orgs": orgs, "deleted": deleted, "approved": approved}
    session.commit()
    return made


def direct_quota_figures(session, sub_id) -> dict:
    """The dashboard's figures for one sub-delegation, counted here with plain SQL."""
    live = Organization.deleted_at.is_(None)
    orgs = dict(session.execute(select(Organization.state, func.count()).where(
        Organization.sub_delegation_id == sub_id, live).group_by(Organization.state)).all())
    orgs = {getattr(k, "value", k): v for k, v in orgs.items()}
    persons = session.scalar(select(func.count()).select_from(Person).join(Organization, Organization.id ==
                             Person.organization_id).where(Person.sub_delegation_id == sub_id, live))

    def slots(label):
        # VIP and staff hold quota slots whatever becomes of their organisation; professional visitors, who
        # hold none, are counted like the persons column: deleted organisations' left out.
        query = select(func.count()).select_from(Person).join(Organization, Organization.id == Person.organization_id)
        if label is Label.PROFESSIONAL:
            query = query.where(live)
        return session.scalar(query.where(Person.sub_delegation_id == sub_id, Person.label == label.value,
                                          Person.state.not_in(["cancelled", "review_failed"])))

    copaid = session.scalar(select(func.coalesce(func.sum(Person.copay_amount), 0)).where(
        Person.sub_delegation_id == sub_id, Person.copay == "confirmed"))
    return {"registered": sum(n for s, n in orgs.items() if s not in ("draft", "rejected")),
            "approved": orgs.get("approved", 0), "persons": persons, "vip": slots(Label.VIP),
            "staff": slots(Label.STAFF), "professional": slots(Label.PROFESSIONAL), "copay": Decimal(str(copaid))}


# --------------------------------------------------------------------------------------------------
# The writer: rows serialised by Sheet read back exactly as xlsxwriter's own cells
# --------------------------------------------------------------------------------------------------

WRITER_VALUES = ["广州单位", "A & B <c>", "ctrl\x01char", "_x0041_ literal", " padded ", "=1+1", "-5", "\tTAB", 42, 3.25,
                 Decimal("1234.50"), date(1990, 5, 17), datetime(2025, 9, 1, 0, 30, tzinfo=timezone.utc),
                 datetime(2025, 9, 1, 8, 30), True, float("nan"), None, "长" * 40000]


def test_serialised_rows_read_back_like_xlsxwriters_own_cells():
    from reports.xlsx import AUTO, Column, Sheet, open_workbook, workbook_formats, write_cell

    ours, theirs = io.BytesIO(), io.BytesIO()
    book = open_workbook(ours)
    sheet = Sheet(book, "s", [Column((str(i), str(i)), AUTO) for i in range(len(WRITER_VALUES))])
    sheet.append(WRITER_VALUES)
    sheet.append(["next", 1])
    sheet.close()
    book.close()
    book = open_workbook(theirs)
    worksheet, formats = book.add_worksheet("s"), workbook_formats(book)
    for row, values in ((1, WRITER_VALUES), (2, ["next", 1])):
        for col, value in enumerate(values):
            write_cell(worksheet, row, col, value, formats)
    book.close()
    mine, reference = typed(ours)["s"], typed(theirs)["s"]
    for row in (2, 3):
        for col in range(1, len(WRITER_VALUES) + 1):
            a, b = mine.cell(row, col), reference.cell(row, col)
            assert (a.value, a.data_type, a.number_format, a.quotePrefix) == \
                (b.value, b.data_type, b.number_format, b.quotePrefix), (row, col, a.value, b.value)
    assert mine.cell(2, 13).value == datetime(2025, 9, 1, 8, 30)  # an aware time in Beijing
    assert frames(ours)["s"].iloc[0, 2] == "ctrl\x01char" and mine.cell(2, 5).value == " padded "


# --------------------------------------------------------------------------------------------------
# Quota dashboard
# --------------------------------------------------------------------------------------------------

def test_quota_dashboard_figures_and_totals_equal_database_counts(session, rw):
    populate(session, rw)
    out = io.BytesIO()
    write_quota_dashboard(session, out, actor=rw.secretariat, lang="zh")
    sheet = typed(out).worksheets[0]
    rows = records(sheet)
    body, totals = rows[:-1], rows[-1]
    assert [r["交易分团"] for r in body] == ["广州交易分团", "深圳交易分团"] and totals["交易分团"] == "合计"
    for row, sub in zip(body, rw.subs.values()):
        expected = direct_quota_figures(session, sub.id)
        assert (row["已报名单位"], row["审核通过单位"], row["参观人员"]) == (
            expected["registered"], expected["approved"], expected["persons"])
        assert (row["VIP已用"], row["工作人员已用"], row["专业观众"]) == (
            expected["vip"], expected["staff"], expected["professional"])
        assert (row["VIP额度"], row["工作人员额度"], row["招商任务（家）"]) == (sub.vip_quota, sub.staff_quota,
                                                                       sub.recruitment_target)
        assert Decimal(str(row["统付已用（元）"])) == expected["copay"]
        assert row["完成率"] == pytest.approx(expected["approved"] / sub.recruitment_target)
        assert row["VIP剩余"] == sub.vip_quota - expected["vip"]
    for key in ("招商任务（家）", "已报名单位", "审核通过单位", "参观人员", "VIP已用", "VIP额度", "工作人员已用",
                "统付已用（元）", "统付额度（元）"):
        assert totals[key] == pytest.approx(sum(r[key] for r in body)), key
    assert totals["完成率"] == pytest.approx(totals["审核通过单位"] / totals["招商任务（家）"])
    # the page's query is the workbook's query
    page_rows, page_totals = dashboard_rows(session, rw.secretariat)
    assert [r["approved"] for r in page_rows] == [r["审核通过单位"] for r in body]
    assert page_totals["vip_used"] == totals["VIP已用"] and page_totals["registered"] == totals["已报名单位"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:P{len(rows) + 1}"
    xml = parts(out)
    charts = [name for name in xml if name.startswith("xl/charts/chart")]
    assert len(charts) == 2
    assert any("<c:barChart>" in xml[c] and '<c:grouping val="stacked"/>' in xml[c] for c in charts)
    assert xml["xl/worksheets/sheet1.xml"].count("<dataBar>") == 4


def test_quota_dashboard_of_a_sub_delegation_admin_holds_only_their_own(session, rw):
    populate(session, rw)
    out = io.BytesIO()
    write_quota_dashboard(session, out, actor=rw.admins["GZ"], lang="en")
    rows = records(typed(out).worksheets[0])
    assert [r["Sub-delegation"] for r in rows] == ["广州交易分团", "Total"]
    assert rows[0]["Approved"] == rows[1]["Approved"] == direct_quota_figures(session, rw.subs["GZ"].id)["approved"]


# --------------------------------------------------------------------------------------------------
# Weekly progress, replayed from the audit log
# --------------------------------------------------------------------------------------------------

def at(day: int, hour: int = 2, minute: int = 0) -> datetime:
    """A UTC time in September 2025 (Beijing is 8 hours ahead)."""
    return datetime(2025, 9, day, hour, minute, tzinfo=timezone.utc)


def create_org(session, world, code, name, when):
    values = {"sub_delegation_id": world.subs[code].id, "name": name, "uscc": make_uscc(),
              "category": OrgCategory.SOCIAL_ORGANISATION.value, "purchase_intentions": "进口食品"}
    return ops.create_organization(session, values, actor=world.admins[code], now=when).id


def database_counts(session, world) -> dict[str, tuple[int, int]]:
    """{code: (registered, approved)} counted straight from the organisation table, now."""
    return {code: (direct_quota_figures(session, sub.id)["registered"],
                   direct_quota_figures(session, sub.id)["approved"]) for code, sub in world.subs.items()}


def test_weekly_progress_of_past_weeks_equals_counts_taken_at_the_end_of_each_week(session, rw):
    sec, gz, sz = rw.secretariat, rw.admins["GZ"], rw.admins["SZ"]
    snapshots = {}
    # 2025-W36: registrations
    g = [create_org(session, rw, "GZ", f"广州单位{i}", at(1 + i)) for i in range(4)]
    s = [create_org(session, rw, "SZ", f"深圳单位{i}", at(2)) for i in range(2)]
    ops.submit_organizations(session, g[:3], actor=gz, now=at(3))
    ops.submit_organizations(session, s[:1], actor=sz, now=at(4))
    snapshots["2025-W36"] = database_counts(session, rw)
    # 2025-W37: reviews; a return for edit stays registered
    ops.approve_organizations(session, g[:2], actor=gz, now=at(9))
    ops.approve_organizations(session, [g[0]] + s[:1], actor=sec, now=at(10))
    ops.return_organizations_for_edit(session, [g[2]], actor=gz, reason="材料不全", now=at(11))
    ops.submit_organizations(session, [g[3]], actor=gz, now=at(12))
    snapshots["2025-W37"] = database_counts(session, rw)
    # 2025-W38: a move to another sub-delegation, a rejection, a deletion; the last change on Sunday 23:30 Beijing
    ops.assign_delegation(session, [g[1]], actor=sec, sub_delegation_id=rw.subs["SZ"].id, now=at(15))
    ops.reject_organizations(session, [g[3]], actor=gz, reason="非属地单位", now=at(16))
    ops.delete_organizations(session, s[:1], actor=sec, now=at(17))
    ops.approve_organizations(session, [g[1]], actor=sec, now=at(21, 15, 30))
    snapshots["2025-W38"] = database_counts(session, rw)
    # 2025-W39 begins at Monday 00:00 Beijing (Sunday 16:00 UTC): a restore ten minutes later counts there
    ops.restore_organizations(session, s[:1], actor=sec, now=at(21, 16, 10))
    ops.resubmit_organizations(session, [g[2]], actor=gz, now=at(23))
    snapshots["2025-W39"] = database_counts(session, rw)
    session.commit()

    previous = {code: (0, 0) for code in rw.subs}
    for week, counts in snapshots.items():
        rows, totals, _ = weekly_rows(session, sec, parse_week(week))
        by_code = {r["sub"].code: r for r in rows}
        for code, (registered, approved) in counts.items():
            row = by_code[code]
            assert (row["registered"], row["approved"]) == (registered, approved), (week, code)
            assert row["registered_change"] == registered - previous[code][0], (week, code)
            assert row["approved_change"] == approved - previous[code][1], (week, code)
        assert totals["registered"] == sum(c[0] for c in counts.values())
        assert totals["approved"] == sum(c[1] for c in counts.values())
        previous = counts
    # this week, reported now, is the dashboard
    rows, totals, _ = weekly_rows(session, sec, parse_week(None))
    assert {r["sub"].code: (r["registered"], r["approved"]) for r in rows} == database_counts(session, rw)

    out = io.BytesIO()
    write_weekly_progress(session, out, actor=sec, lang="zh", week="2025-W38")
    book = typed(out)
    summary = records(book.worksheets[0])
    assert summary[-1]["交易分团"] == "合计"
    assert summary[-1]["审核通过单位（周末）"] == sum(c[1] for c in snapshots["2025-W38"].values())
    assert summary[-1]["审核通过较上周"] == (sum(c[1] for c in snapshots["2025-W38"].values())
                                      - sum(c[1] for c in snapshots["2025-W37"].values()))
    series = records(book.worksheets[1])
    assert [r["周次"] for r in series] == ["2025-W36", "2025-W37", "2025-W38"]
    assert [r["审核通过单位"] for r in series] == [sum(c[1] for c in snapshots[w].values())
                                              for w in ("2025-W36", "2025-W37", "2025-W38")]
    assert any("<c:lineChart>" in xml for name, xml in parts(out).items() if name.startswith("xl/charts/"))

    gz_only = io.BytesIO()
    write_weekly_progress(session, gz_only, actor=gz, lang="zh", week="2025-W38")
    assert [r["交易分团"] for r in records(typed(gz_only).worksheets[0])] == ["广州交易分团", "合计"]


@pytest.mark.parametrize("text, monday", [("2025-W41", date(2025, 10, 6)), ("2025w41", date(2025, 10, 6)),
                                          ("2020-W53", date(2020, 12, 28)), ("2026-W01", date(2025, 12, 29))])
def test_iso_weeks_are_read_from_their_usual_spellings(text, monday):
    assert parse_week(text) == monday


@pytest.mark.parametrize("text", ["2025-W54", "2025-W00", "2021-W53", "41", "2025-10-06", "W41-2025"])
def test_a_week_that_does_not_exist_is_refused_with_the_expected_format(text):
    with pytest.raises(InvalidParameter, match="YYYY-Www"):
        parse_week(text)


# --------------------------------------------------------------------------------------------------
# Sub-delegation workbooks: sheets, scope, masking, text safety, typed cells
# --------------------------------------------------------------------------------------------------

def test_sub_delegation_workbook_lists_its_own_rows_with_typed_cells(session, rw):
    made = populate(session, rw)
    gz = rw.subs["GZ"]
    org = made["GZ"]["approved"]
    org.submitted_at = datetime(2025, 9, 1, 0, 30, tzinfo=timezone.utc)
    person = make_person(session, org, name="李四", birth_date=date(1990, 5, 17), id_type="resident_id",
                         id_number="440106199005171234", mobile="13800138000")
    session.add(DealIntention(organization_id=org.id, sub_delegation_id=gz.id, exhibitor="某展商",
                              amount=Decimal("1234.50"), currency="USD"))
    session.commit()
    out = io.BytesIO()
    written = write_sub_delegation(session, out, actor=rw.secretariat, sub="GZ", lang="zh")
    assert list(written.sheets) == ["概况", "单位", "参观人员", "订单", "退款", "意向成交"]
    book = typed(out)
    orgs = records(book["单位"])
    expected_orgs = session.scalars(select(Organization.name).where(
        Organization.sub_delegation_id == gz.id, Organization.deleted_at.is_(None)).order_by(Organization.id)).all()
    assert [r["单位名称"] for r in orgs] == expected_orgs  # the deleted one is left out
    persons = records(book["参观人员"])
    live = session.scalar(select(func.count()).select_from(Person).join(Organization, Organization.id ==
                          Person.organization_id).where(Person.sub_delegation_id == gz.id,
                                                        Organization.deleted_at.is_(None)))
    assert len(persons) == live
    li = next(r for r in persons if r["姓名"] == "李四")
    assert li["证件号码"] == "440106199005171234" and li["手机"] == "13800138000"
    assert li["出生日期"] == datetime(1990, 5, 17) and li["证件类型"] == "居民身份证" and li["人员标签"] == "专业观众"
    approved = next(r for r in orgs if r["单位名称"] == org.name)
    assert approved["提交时间"] == datetime(2025, 9, 1, 8, 30)  # stored in UTC, shown in Beijing time
    assert isinstance(approved["VIP额度"], int) and approved["状态"] == "审核通过"
    deal = records(book["意向成交"])[0]
    assert deal["意向金额"] == pytest.approx(1234.5) and deal["币种"] == "USD"
    summary = {r["项目"]: r for r in records(book["概况"])}
    figures = direct_quota_figures(session, gz.id)
    assert summary["审核通过单位 / 招商任务"]["数量/金额"] == figures["approved"]
    assert summary["参观人员"]["数量/金额"] == figures["persons"] == len(persons)
    assert summary["VIP"]["数量/金额"] == figures["vip"]
    for name in book.sheetnames:
        assert book[name].freeze_panes == "A2" and book[name].auto_filter.ref.startswith("A1:")
    # the person sheet reads back like an import file: the template's headers, ID numbers as text
    frame = frames(out)["参观人员"]
    assert {"统一社会信用代码", "姓名", "性别", "人员类型", "证件类型", "证件号码", "出生日期", "手机", "邮箱", "职务",
            "人员标签", "入场日期", "领取方式"} <= set(frame.columns)
    assert "440106199005171234" in set(frame["证件号码"])


def test_viewers_get_id_numbers_mobiles_and_birth_dates_masked(session, rw):
    made = populate(session, rw)
    make_person(session, made["GZ"]["approved"], name="王五", birth_date=date(1988, 2, 3), id_type="resident_id",
                id_number="440106198802031235", mobile="13900139000")
    session.commit()
    out = io.BytesIO()
    write_sub_delegation(session, out, actor=rw.viewer, sub="GZ", lang="zh")
    sheets = frames(out)
    wang = sheets["参观人员"].set_index("姓名").loc["王五"]
    assert wang["证件号码"] == "440***********1235" and wang["手机"] == "139****9000" and wang["出生日期"] == "1988"
    text = "".join(parts(out).values())
    assert "440106198802031235" not in text and "13900139000" not in text
    assert all("****" in m for m in sheets["单位"]["联系人手机"].dropna())
    clear = io.BytesIO()
    write_sub_delegation(session, clear, actor=rw.secretariat, sub="GZ", lang="zh")
    assert "440106198802031235" in set(frames(clear)["参观人员"]["证件号码"])


def test_formula_like_text_is_written_as_text(session, rw):
    sub = rw.subs["GZ"]
    org = make_organization(session, sub, state=OrgState.APPROVED, name="=HYPERLINK(\"http://x\",\"点\")",
                            purchase_intentions="@SUM(1,2)", contact_name="-1")
    for name in FORMULAS:
        make_person(session, org, name=name, position="+1")
    session.commit()
    out = io.BytesIO()
    write_sub_delegation(session, out, actor=rw.secretariat, sub="GZ", lang="zh")
    book = typed(out)
    # openpyxl leaves OOXML's escape of a carriage return (_x000D_) as it is; calamine reads it as \r
    cells = [c for row in book["参观人员"].iter_rows(min_row=2) for c in row
             if isinstance(c.value, str) and c.value.replace("_x000D_", "\r") in FORMULAS]
    assert sorted(c.value.replace("_x000D_", "\r") for c in cells) == sorted(FORMULAS)
    assert set(FORMULAS) <= set(frames(out)["参观人员"]["姓名"])
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    org_row = list(book["单位"].iter_rows(min_row=2, max_row=2))[0]
    assert org_row[1].value.startswith("=HYPERLINK") and org_row[1].data_type == "s" and org_row[1].quotePrefix
    assert not any("<f>" in xml for xml in parts(out).values())  # no formula anywhere


def test_a_sub_delegation_admin_exports_only_their_own(session, rw, engine, tmp_path):
    populate(session, rw)
    with pytest.raises(NotFound, match="不在您的权限范围内"):
        write_sub_delegation(session, io.BytesIO(), actor=rw.admins["GZ"], sub="SZ")
    with pytest.raises(NotFound):
        write_sub_delegation(session, io.BytesIO(), actor=rw.admins["GZ"], sub="NOPE")
    written = run_export(engine, "sub-delegation", str(tmp_path / "gz"), actor=rw.admins["GZ"], every=True)
    assert [os.path.basename(p) for p in written.files] == ["广州交易分团-GZ.xlsx"]
    for kind in ("quota-dashboard", "weekly-progress", "finance", "deal-intentions"):
        path = str(tmp_path / f"{kind}.xlsx")
        run_export(engine, kind, path, actor=rw.admins["GZ"])
        text = "".join(parts(path).values())
        assert "深圳交易分团" not in text, kind


def test_every_sub_delegation_in_worker_processes_as_a_zip(session, rw, engine, tmp_path):
    populate(session, rw)
    target = str(tmp_path / "all.zip")
    written = run_export(engine, "sub-delegation", target, actor=rw.secretariat, every=True, processes=2)
    assert written.files == [target]
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["广州交易分团-GZ.xlsx", "深圳交易分团-SZ.xlsx"]
        for name in archive.namelist():
            code = name[-7:-5]
            persons = frames(io.BytesIO(archive.read(name)))["参观人员"]
            assert len(persons) == direct_quota_figures(session, rw.subs[code].id)["persons"]


# --------------------------------------------------------------------------------------------------
# Finance and deal intentions
# --------------------------------------------------------------------------------------------------

def paid_order(session, world, code, n, method="qr_alipay"):
    org = make_organization(session, world.subs[code], state=OrgState.APPROVED)
    ids = [make_person(session, org, state=PersonState.PENDING_PAYMENT).id for _ in range(n)]
    order = session.get(Order, fin.create_orders(session, ids, actor=world.admins[code], now=NOW).order_ids[0])
    if method == "transfer":
        fin.submit_voucher(session, order.id, actor=world.admins[code], voucher="voucher/" + "ab" * 16 + ".png",
                           amount=order.total_amount, payer_kind="organization", payer_name="某某贸易有限公司",
                           payer_account="3602000109000000001", now=NOW)
        fin.verify_payments(session, select(Payment.id).where(Payment.order_id == order.id), actor=world.finance,
                            now=NOW)
    else:
        assert fin.record_gateway_payment(session, actor=world.finance, order_number=order.number, method=method,
                                          amount=order.total_amount, reference=f"REF-{order.id}", paid_at=NOW,
                                          now=NOW).ok
    return order, ids


def refund_all(session, world, code, order, ids):
    for person_id in ids:
        session.get(Person, person_id).state = PersonState.REVIEW_FAILED
    session.flush()
    lines = session.scalars(select(OrderLine.id).where(OrderLine.order_id == order.id)).all()
    refund_ids = fin.request_refund(session, lines, actor=world.admins[code], method="original_route",
                                    now=NOW).refund_ids
    return fin.batch_refund(session, refund_ids, actor=world.finance, now=NOW)


def test_finance_totals_reconcile_paid_less_refunded_is_the_balance(session, rw):
    paid_order(session, rw, "GZ", 3)
    paid_order(session, rw, "GZ", 2, method="transfer")
    order, ids = paid_order(session, rw, "SZ", 2, method="qr_wechat")
    refund_all(session, rw, "SZ", order, ids[:1])
    unpaid = fin.create_orders(session, [make_person(session, make_organization(
        session, rw.subs["SZ"], state=OrgState.APPROVED), state=PersonState.PENDING_PAYMENT).id],
        actor=rw.admins["SZ"], now=NOW)
    assert unpaid.order_ids
    session.commit()
    out = io.BytesIO()
    write_finance(session, out, actor=rw.finance, lang="zh")
    book = typed(out)
    rows = records(book["对账汇总"])
    body, totals = rows[:-1], rows[-1]
    balance = "余额（元）＝已到账－已退款"
    for row in rows:
        assert row[balance] == pytest.approx(row["已到账金额（元）"] - row["已退款金额（元）"])
    assert {(r["交易分团"], r["支付方式"]) for r in body} >= {("广州交易分团", "扫码支付（支付宝）"),
                                                          ("广州交易分团", "转账支付"), ("深圳交易分团", "扫码支付（微信）")}
    money = order_money(session, session.scalars(select(Order.id)).all())
    assert Decimal(str(totals["已到账金额（元）"])) == sum(m["settled"] for m in money.values())
    assert Decimal(str(totals["已退款金额（元）"])) == sum(m["refunded"] for m in money.values()) == Decimal("200")
    assert Decimal(str(totals[balance])) == sum(m["balance"] for m in money.values())
    by_method = records(book["按支付方式"])
    assert by_method[-1][balance] == totals[balance]
    assert len(records(book["支付记录"])) == session.scalar(select(func.count()).select_from(Payment))
    assert [r["状态"] for r in records(book["退款"])] == ["已退款"]
    gz_only = io.BytesIO()
    write_finance(session, gz_only, actor=rw.admins["GZ"], lang="zh")
    assert {r["交易分团"] for r in records(typed(gz_only)["对账汇总"])} == {"广州交易分团", "合计"}
    assert session.scalar(select(func.count()).select_from(Refund).where(
        Refund.state == RefundState.REFUNDED.value)) == 1


def test_deal_intentions_are_summed_per_currency_never_across(session, rw):
    made = populate(session, rw)
    amounts = [("GZ", "USD", "1000.50"), ("GZ", "USD", "2000"), ("GZ", "EUR", "300"), ("SZ", "USD", "50")]
    for code, currency, amount in amounts:
        org = made[code]["approved"]
        session.add(DealIntention(organization_id=org.id, sub_delegation_id=org.sub_delegation_id, exhibitor="展商",
                                  amount=Decimal(amount), currency=currency))
    session.commit()
    out = io.BytesIO()
    write_deal_intentions(session, out, actor=rw.secretariat, lang="zh")
    book = typed(out)
    by_sub = records(book["按交易分团"])
    totals = {r["币种"]: r["意向金额"] for r in by_sub if r["交易分团"] == "合计"}
    expected = defaultdict(Decimal)
    for _, currency, amount in amounts:
        expected[currency] += Decimal(amount)
    assert {c: Decimal(str(a)) for c, a in totals.items()} == expected
    assert {(r["交易分团"], r["币种"]): r["意向笔数"] for r in by_sub if r["交易分团"] != "合计"} == {
        ("广州交易分团", "EUR"): 1, ("广州交易分团", "USD"): 2, ("深圳交易分团", "USD"): 1}
    by_org = records(book["按单位"])
    assert {r["币种"]: r["意向金额"] for r in by_org if r["交易分团"] == "合计"} == totals
    assert len(records(book["意向成交明细"])) == len(amounts)


# --------------------------------------------------------------------------------------------------
# The export command
# --------------------------------------------------------------------------------------------------

@pytest.fixture
def cli(database_url, engine, tmp_path):
    with export_cli(database_url, tmp_path) as run:
        yield run


def test_export_command_writes_and_exits_1_with_a_sentence(session, rw, cli, tmp_path):
    populate(session, rw)
    admin = rw.admins["GZ"].username
    ok = cli("quota-dashboard", "--out", str(tmp_path / "q.xlsx"), "--as", admin)
    assert ok.exit_code == 0, ok.output
    assert [r["交易分团"] for r in records(typed(str(tmp_path / "q.xlsx")).worksheets[0])] == ["广州交易分团", "合计"]
    one = cli("sub-delegation", "--sub-delegation", "GZ", "--out", str(tmp_path / "gz.xlsx"), "--as", admin)
    assert one.exit_code == 0 and "参观人员" in one.output
    every = cli("sub-delegation", "--all", "--out", str(tmp_path / "all"), "--as", rw.secretariat.username,
                "--processes", "1")
    assert every.exit_code == 0, every.output
    assert sorted(os.listdir(tmp_path / "all")) == ["广州交易分团-GZ.xlsx", "深圳交易分团-SZ.xlsx"]
    week = cli("weekly-progress", "--week", "2025-W41", "--out", str(tmp_path / "w.xlsx"), "--as", admin,
               "--lang", "en")
    assert week.exit_code == 0 and "Weekly progress 2025-W41" in week.output

    refusals = {
        ("sub-delegation", "--sub-delegation", "SZ", "--as", admin): "不在您的权限范围内",
        ("sub-delegation", "--sub-delegation", "NOPE", "--as", admin): "不在您的权限范围内",
        ("sub-delegation", "--as", admin): "--all",
        ("finance", "--as", "nobody"): "用户不存在",
        ("weekly-progress", "--week", "2025-W60", "--as", admin): "YYYY-Www",
        ("weekly-progress", "--week", "last week", "--as", admin): "YYYY-Www",
        ("finance", "--week", "2025-W41", "--as", admin): "--week",
        ("sub-delegation", "--all", "--sub-delegation", "GZ", "--as", admin): "只能选一个",
    }
    for args, message in refusals.items():
        result = cli(*args, "--out", str(tmp_path / "refused.xlsx"))
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert not (tmp_path / "refused.xlsx").exists()
