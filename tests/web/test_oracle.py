"""No oracle for masked data, no secrets, no foreign figures, no raw errors (issue 6).

A viewer sees ID numbers and mobiles masked and birth dates as the year; no search, sort, filter,
count or export may confirm a guess. Password hashes never leave the server. A refusal never quotes
figures from outside the actor's scope. Bad form and URL values get a Chinese sentence and write nothing.
"""
from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from factories import make_uscc, bulk_persons, make_organization, make_person
from models import (Channel, ExpoEdition, Label, Organization, OrgAddress, OrgState, OutboxMessage, Person,
                    PersonState, QuotaAllocation, SubDelegation, User)
from models.registration import operations as ops
from support import list_count

ID_NUMBER = "11010519491231002X"
BIRTH = date(1949, 12, 31)
MOBILE = "13812345678"


def view(app, endpoint):
    """The registered view instance of an endpoint."""
    return next(v for admin in app.extensions["admin"] for v in admin._views if getattr(v, "endpoint", "") == endpoint)


def column_index(app, endpoint, name) -> int:
    return [n for n, _ in view(app, endpoint)._list_columns].index(name)


def filter_args(app, endpoint, label) -> list[str]:
    """The URL keys (flt0_<arg>) of every filter with this label."""
    v = view(app, endpoint)
    return [f"flt0_{v.get_filter_arg(i, f)}" for i, f in enumerate(v._filters) if str(f.name) == label]


def filter_menu(html: str) -> list[str]:
    """Names in the filter menu Flask-Admin renders (its JSON data block)."""
    match = re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S)
    return list(json.loads(match.group(1))) if match else []


def xlsx_text(data: bytes) -> str:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return "\n".join(" ".join("" if c is None else str(c) for c in row) for row in sheet.iter_rows(values_only=True))


@pytest.fixture
def resident(session, world, rows):
    """A GZ person with a resident ID, a full birth date and a mobile."""
    org = session.get(Organization, rows.of["GZ"][Organization])
    person = make_person(session, org, state=PersonState.PENDING_CONFIRMATION, name="王测试", id_type="resident_id",
                         id_number=ID_NUMBER, birth_date=BIRTH, mobile=MOBILE)
    session.commit()
    return person


# --- masked data: no oracle -------------------------------------------------------------------------

def test_viewer_search_by_full_id_number_or_mobile_reveals_no_count(world, resident, client_for, session):
    viewer, secretariat = client_for(world.viewer), client_for(world.secretariat)
    org = session.get(Organization, resident.organization_id)
    address_mobile = session.scalar(select(OrgAddress.mobile).where(OrgAddress.organization_id == org.id))
    for endpoint, value in (("person", ID_NUMBER), ("person", MOBILE), ("organization", org.contact_mobile),
                            ("org_address", address_mobile)):
        assert list_count(secretariat.get(f"/admin/{endpoint}/?search={value}").text) >= 1, endpoint
        page = viewer.get(f"/admin/{endpoint}/?search={value}")
        assert page.status_code == 200
        assert list_count(page.text) == 0, (endpoint, value)
        assert "您的角色不能按" in page.text and "搜索" in page.text
        export = viewer.get(f"/admin/{endpoint}/export.xlsx?search={value}")
        assert value not in xlsx_text(export.data) and len(xlsx_text(export.data).splitlines()) == 1  # header only


def test_viewer_sees_the_birth_year_only_and_masked_numbers(app, world, resident, client_for, session):
    viewer = client_for(world.viewer)
    details = viewer.get(f"/admin/person/details/?id={resident.id}").text
    assert "1949" in details and "1949-12-31" not in details and "12-31" not in details
    assert ID_NUMBER not in details and MOBILE not in details and "110***" in details
    export = xlsx_text(viewer.get("/admin/person/export.xlsx").data)
    assert ID_NUMBER not in export and MOBILE not in export
    assert "1949-12-31" in client_for(world.secretariat).get(f"/admin/person/details/?id={resident.id}").text


def test_viewer_cannot_sort_by_id_number_and_sees_no_sort_link(app, world, resident, client_for, session):
    org = session.get(Organization, resident.organization_id)
    make_person(session, org, name="甲排序", id_number="00000000000000001")  # smallest id number, newest row
    session.commit()
    idx = column_index(app, "person", "id_number")
    secretariat = client_for(world.secretariat).get(f"/admin/person/?sort={idx}").text
    viewer_default = client_for(world.viewer).get("/admin/person/").text
    viewer_sorted = client_for(world.viewer).get(f"/admin/person/?sort={idx}").text
    names = lambda html: re.findall(r"(甲排序|王测试|GZ人员甲|SZ人员甲)", html)  # noqa: E731
    assert names(secretariat)[0] == "甲排序" and names(secretariat) != names(viewer_default)[::-1]
    assert names(viewer_sorted) == names(viewer_default)  # the sort argument was ignored
    assert f"sort={idx}" not in viewer_default and f"sort={idx}" in client_for(world.secretariat).get(
        "/admin/person/").text


def test_viewer_cannot_filter_by_birth_date_and_has_no_such_menu_entry(app, world, resident, client_for):
    keys = filter_args(app, "person", "出生日期")
    assert keys, "person has birth-date filters"
    eq = keys[0]  # "equals"
    viewer = client_for(world.viewer)
    listing = viewer.get("/admin/person/").text
    assert "出生日期" not in filter_menu(listing) and "状态" in filter_menu(listing)
    page = viewer.get(f"/admin/person/?{eq}=1949-12-31")
    assert page.status_code == 200 and "您的角色不能按「出生日期」筛选" in page.text
    assert list_count(page.text) == list_count(listing)  # the filter was not applied
    assert "出生日期" in filter_menu(client_for(world.secretariat).get("/admin/person/").text)


def test_sms_recipients_in_the_outbox_are_masked_for_the_viewer(world, resident, client_for, session):
    session.add(OutboxMessage(channel=Channel.SMS, recipient=MOBILE, template="person_please_pay",
                              object_type="person", object_id=resident.id, sub_delegation_id=resident.sub_delegation_id))
    session.commit()
    assert MOBILE not in client_for(world.viewer).get("/admin/outbox_message/").text
    assert MOBILE in client_for(world.secretariat).get("/admin/outbox_message/").text


def test_masking_rule_is_one_function_of_column_and_role():
    from models.enums import Role
    from models.present import MASK, YEAR, masked_columns

    assert masked_columns(Person, Role.VIEWER) == {"id_number": MASK, "mobile": MASK, "birth_date": YEAR}
    assert masked_columns(Organization, Role.VIEWER) == {"contact_mobile": MASK}
    assert masked_columns(OrgAddress, Role.VIEWER) == {"mobile": MASK}
    for role in (Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN, Role.FINANCE):
        assert masked_columns(Person, role) == {}


# --- password hashes -----------------------------------------------------------------------------------

def test_password_hashes_never_leave_the_server(world, client_for, session):
    client = client_for(world.secretariat)
    user = session.get(User, world.finance.id)
    pages = [client.get(f"/admin/admin_user/details/?id={user.id}").text, client.get("/admin/admin_user/").text,
             client.get(f"/admin/admin_user/edit/?id={user.id}").text,
             xlsx_text(client.get("/admin/admin_user/export.xlsx").data)]
    for page in pages:
        assert user.password_hash not in page and user.password_hash.split("$")[-1] not in page
        assert "pbkdf2:" not in page and "scrypt:" not in page
    assert "密码" not in pages[0].split("操作记录")[0]  # no password row on the details page
    assert user.username in pages[0]


# --- refusals quote figures in scope only ------------------------------------------------------------

def test_assign_refusal_hides_the_target_figures_from_a_sub_delegation_admin(world, session):
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    sz.vip_quota = 47
    receiving = make_organization(session, sz, state=OrgState.APPROVED, vip_quota=100)
    bulk_persons(session, receiving, 47, state=PersonState.APPROVED, label=Label.VIP)
    moving = make_organization(session, gz, state=OrgState.APPROVED)
    make_person(session, moving, state=PersonState.PENDING_REVIEW, label=Label.VIP)
    session.flush()
    admin = ops.assign_delegation(session, [moving.id], actor=world.admins["GZ"], sub_delegation_id=sz.id)
    reason = admin.skipped[moving.id]
    assert "目标分团VIP额度不足" in reason and "47" not in reason and "已用" not in reason
    secretariat = ops.assign_delegation(session, [moving.id], actor=world.secretariat,
                                                  sub_delegation_id=sz.id)
    assert "已用 47/47" in secretariat.skipped[moving.id]


def test_assign_refusal_on_the_web_page_shows_no_target_figures(world, rows, client_for, session):
    sz = session.get(SubDelegation, world.subs["SZ"].id)
    sz.vip_quota = 0
    org = session.get(Organization, rows.of["GZ"][Organization])
    make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.VIP)
    session.commit()
    result = client_for(world.admins["GZ"]).post(f"/admin/organization/transition/assign_delegation/?ids={org.id}",
                                                 data={"sub_delegation_id": str(sz.id)})
    assert "目标分团VIP额度不足" in result.text and "已用" not in result.text and "0/0" not in result.text


# --- numbers, dates and constraint errors in forms ---------------------------------------------------

def sub_delegation_form(sub, **overrides):
    data = {"delegation": sub.delegation_id, "seq": 1, "code": sub.code, "name": sub.name, "kind": "city",
            "recruitment_target": 100, "vip_quota": 100, "staff_quota": 100, "copay_budget": "1000000"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("field,value,message", [
    ("copay_budget", "-1", "不能为负数"), ("copay_budget", "NaN", "请输入有效的数字"),
    ("copay_budget", "inf", "请输入有效的数字"), ("copay_budget", "1e12", "最大 100,000,000"),
    ("copay_budget", "1e9", "最大 100,000,000"), ("vip_quota", "-5", "不能为负数"),
    ("recruitment_target", "99999999999", None)])
def test_bad_numbers_are_refused_on_the_field_and_nothing_is_written(world, client_for, session, field, value,
                                                                    message):
    sub = world.subs["GZ"]
    before = (sub.copay_budget, sub.vip_quota, sub.recruitment_target)
    session.commit()
    page = client_for(world.secretariat).post(f"/admin/sub_delegation/edit/?id={sub.id}",
                                              data=sub_delegation_form(sub, **{field: value}))
    assert page.status_code == 200  # the form again, not a redirect
    assert "is-invalid" in page.text
    if message:
        assert message in page.text
    assert "CHECK constraint" not in page.text and "violates" not in page.text
    session.rollback()  # a new transaction sees what the request committed
    sub = session.get(SubDelegation, sub.id)
    assert (sub.copay_budget, sub.vip_quota, sub.recruitment_target) == before


def test_a_good_budget_still_saves(world, client_for, session):
    sub = world.subs["GZ"]
    session.commit()
    page = client_for(world.secretariat).post(f"/admin/sub_delegation/edit/?id={sub.id}",
                                              data=sub_delegation_form(sub, copay_budget="2500.50"))
    assert page.status_code == 302
    session.rollback()  # a new transaction sees what the request committed
    assert session.get(SubDelegation, sub.id).copay_budget == Decimal("2500.50")


def test_edition_fee_and_dates_are_checked_on_the_field(world, client_for, session):
    edition = world.edition
    session.commit()
    form = {"number": edition.number, "name": edition.name, "start_date": "2025-11-05", "end_date": "2025-11-10",
            "entry_days": "", "fee_per_label": "200", "reuse_fee_percent": "50"}
    client = client_for(world.secretariat)
    backwards = client.post(f"/admin/expo_edition/edit/?id={edition.id}", data={**form, "end_date": "2025-11-01"})
    assert backwards.status_code == 200 and "闭幕日期不能早于开幕日期" in backwards.text
    nan_fee = client.post(f"/admin/expo_edition/edit/?id={edition.id}", data={**form, "fee_per_label": "NaN"})
    assert nan_fee.status_code == 200 and "请输入有效的数字" in nan_fee.text
    percent = client.post(f"/admin/expo_edition/edit/?id={edition.id}", data={**form, "reuse_fee_percent": "101"})
    assert percent.status_code == 200 and "最大 100" in percent.text
    session.rollback()  # a new transaction sees what the request committed
    saved = session.get(ExpoEdition, edition.id)
    assert (saved.end_date, saved.fee_per_label, saved.reuse_fee_percent) == (date(2025, 11, 10), Decimal("200"), 50)
    assert client.post(f"/admin/expo_edition/edit/?id={edition.id}", data=form).status_code == 302


def test_a_constraint_that_reaches_the_user_is_a_sentence(world, rows, client_for, session):
    existing = session.get(QuotaAllocation, rows.of["GZ"][QuotaAllocation])
    existing.uscc = make_uscc()  # a valid USCC, so only the database's uniqueness refuses the copy
    session.commit()
    data = {"edition": world.edition.id, "sub_delegation": world.subs["GZ"].id, "uscc": existing.uscc,
            "organization_name": "重复预分配", "vip_quota": 0, "staff_quota": 0}
    page = client_for(world.secretariat).post("/admin/quota_allocation/new/", data=data, follow_redirects=True)
    assert "该统一社会信用代码本届已有额度预分配" in page.text
    for driver_text in ("UNIQUE constraint", "duplicate key", "IntegrityError", "quota_allocation.uscc"):
        assert driver_text not in page.text
    assert session.scalar(select(QuotaAllocation.id).where(QuotaAllocation.organization_name == "重复预分配")) is None


# --- URL parameters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["flt0_4=珠海市", "flt0_0=nosuchstate", "flt0_2=draft,nosuch", "flt0_0=a%00b"])
def test_a_filter_value_outside_its_options_is_ignored_with_a_notice(world, rows, client_for, query):
    client = client_for(world.secretariat)
    everything = list_count(client.get("/admin/person/").text)
    page = client.get(f"/admin/person/?{query}")
    assert page.status_code == 200 and "无效，已忽略" in page.text
    assert list_count(page.text) == everything


def test_unparsable_dates_and_numbers_in_filters_are_ignored_with_a_notice(app, world, rows, client_for):
    client = client_for(world.secretariat)
    for key in filter_args(app, "audit_entry", "对象编号") + filter_args(app, "person", "创建时间"):
        endpoint = "audit_entry" if key in filter_args(app, "audit_entry", "对象编号") else "person"
        for value in ("abc", "2025-02-30", "99999999999999999999", "-99999999999"):
            page = client.get(f"/admin/{endpoint}/?{key}={value}")
            assert page.status_code == 200 and "无效，已忽略" in page.text, (endpoint, key, value)


@pytest.mark.parametrize("query", ["page=-3", "page=99999", "page=abc", "page_size=100000", "page_size=-1",
                                   "page_size=abc", "sort=999", "sort=-1", "desc=x", "search=%25_%27",
                                   "search=" + "x" * 3000, f"page={10**20}"])
def test_odd_paging_and_search_arguments_answer_a_page(world, rows, client_for, query):
    assert client_for(world.secretariat).get(f"/admin/person/?{query}").status_code == 200


def test_ids_that_are_no_row_answer_not_found(world, rows, client_for):
    client = client_for(world.secretariat)
    for bad in ("abc", "-1", str(10**20), "1 OR 1=1"):
        assert client.get(f"/admin/person/details/?id={bad}").status_code == 404


# --- CLI -----------------------------------------------------------------------------------------------

def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


@pytest.mark.parametrize("expression,message", [
    ("id=1 OR 1=1", "字段 id 的值应为整数"), ("state=nosuch", "可选值"), ("is_reuse=maybe", "true 或 false"),
    ("birth_date=1990-02-30", "日期"), ("nosuchfield=1", "无法识别的条件"), ("state", "无法识别的条件"),
    (" , ", "条件为空"), ("id=99999999999", "超出范围")])
def test_cli_all_matching_refuses_what_it_does_not_understand(app, world, session, expression, message):
    session.commit()
    result = run_cli(app, "transition", "person", "confirm_copay", "--as", world.secretariat.username,
                     "--all-matching", expression)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_all_matching_reads_values_by_column_type(app, world, rows, session):
    org = session.get(Organization, rows.of["GZ"][Organization])
    org.state = OrgState.APPROVED  # its persons' co-payment is decided once it is approved
    make_person(session, org, state=PersonState.PENDING_CONFIRMATION, is_reuse=True)
    session.commit()
    result = run_cli(app, "transition", "person", "cancel_copay", "--as", world.secretariat.username,
                     "--all-matching", f"state=pending_confirmation,is_reuse=false,organization_id={org.id}")
    assert result.exit_code == 0, result.output
    assert result.output.count("\tdone") == 1


def test_cli_bad_ids_are_a_message(app, world, session):
    session.commit()
    result = run_cli(app, "transition", "person", "confirm_copay", "--as", world.secretariat.username,
                     "--ids", "1,abc")
    assert result.exit_code == 1 and "--ids 应为逗号分隔的编号" in result.output


# --- constraint sentences ------------------------------------------------------------------------------

def test_every_constraint_has_its_own_sentence():
    from models.present import GENERIC_MESSAGE, constraint_message, constraint_names

    for name in constraint_names():
        assert constraint_message(name) != GENERIC_MESSAGE[0], name


def test_driver_errors_become_sentences_on_both_backends(world, session):
    from sqlalchemy.exc import IntegrityError

    from models.present import database_error_message

    session.commit()
    cases = [(lambda: setattr(session.get(SubDelegation, world.subs["GZ"].id), "copay_budget", Decimal(-1)),
              "统付额度不能为负数"),
             (lambda: setattr(session.get(SubDelegation, world.subs["GZ"].id), "code", "SZ"), "交易分团代码已存在"),
             (lambda: setattr(session.get(SubDelegation, world.subs["GZ"].id), "name", None), "「成员单位」不能为空")]
    for change, sentence in cases:
        change()
        with pytest.raises(IntegrityError) as caught:
            session.flush()
        session.rollback()
        assert database_error_message(caught.value) == sentence
