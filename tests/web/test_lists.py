"""The organisation and person lists (issue 8, items 5 and 6): one row menu of the actions that can pass,
the review each approve performs, deleted organisations on request, the person filters and quota counter,
and a search box that finds what a person types, through indexes."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import or_, select, text

from factories import make_organization, make_person, make_uscc
from models import CopayDecision, IdType, Label, Organization, OrgState, Person, PersonState, Pickup
from support import list_count
from views.dashboard import dashboard_rows
from views.search import column_condition

MEDIA = "广州精芯传媒有限公司"


# --- helpers ----------------------------------------------------------------------------------------

def row_menu(html: str, row_id: int) -> str:
    """The row menu of one row: its icons and the labels of the actions it offers."""
    marker = f'class="dd-row-menu" data-row="{row_id}"'
    assert marker in html, f"no row menu for row {row_id}"
    return html.split(marker, 1)[1].split("</td>", 1)[0]


def filter_groups(html: str) -> dict:
    """The list's filter menu: {name: [{arg, operation, options, ...}]}."""
    return json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S).group(1))


def filter_arg(html: str, group: str) -> str:
    """The URL argument of a filter in the list's filter menu, by its name (its first operation)."""
    return filter_groups(html)[group][0]["arg"]


def filter_options(html: str, group: str) -> list:
    return filter_groups(html)[group][0]["options"]


def row_text(html: str, row_id: int) -> str:
    """The cells of one row (from its row menu to the end of the row)."""
    return html.split(f'data-row="{row_id}"', 1)[1].split("</tr>", 1)[0]


def listed(client, url: str) -> tuple[int | None, str]:
    html = client.get(url).text
    return list_count(html), html


@pytest.fixture
def gz_org(world, session):
    return make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, name="广州测试采购有限公司")


# --- row menus ----------------------------------------------------------------------------------------

def test_row_menu_offers_only_the_actions_that_can_pass_for_the_row(world, gz_org, client_for, session):
    decided = make_person(session, gz_org, state=PersonState.PENDING_LOCK, copay=CopayDecision.CONFIRMED,
                          copay_amount=Decimal("200"))
    undecided = make_person(session, gz_org, state=PersonState.PENDING_LOCK)
    vip = make_person(session, gz_org, state=PersonState.SAVED, label=Label.VIP)
    html = client_for(world.admins["GZ"]).get("/admin/person/").text
    assert "确认代付" not in row_menu(html, decided.id) and "取消代付" not in row_menu(html, decided.id)
    assert "锁定提交" in row_menu(html, decided.id)
    assert "确认代付" in row_menu(html, undecided.id) and "取消代付" in row_menu(html, undecided.id)
    assert "标签升级" not in row_menu(html, vip.id)  # nothing above VIP: no choice of the upgrade can pass
    assert "标签升级" in row_menu(html, undecided.id)


def test_row_menu_never_offers_restore_on_a_row_that_is_not_deleted(world, gz_org, client_for, session):
    deleted = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED, deleted=True)
    client = client_for(world.secretariat)
    html = client.get("/admin/organization/").text
    assert "恢复" not in row_menu(html, gz_org.id) and "删除" in row_menu(html, gz_org.id)
    arg = filter_arg(html, "已删除")
    shown = client.get(f"/admin/organization/?flt0_{arg}=only").text
    assert "恢复" in row_menu(shown, deleted.id) and ">删除<" not in row_menu(shown, deleted.id)


def test_row_menu_links_carry_the_row_id_and_the_return_url(world, gz_org, client_for):
    html = client_for(world.admins["GZ"]).get("/admin/organization/?page_size=20").text
    menu = row_menu(html, gz_org.id)
    assert f"/admin/organization/details/?id={gz_org.id}&amp;url=" in menu
    assert f"/admin/organization/transition/delete/?ids={gz_org.id}&amp;url=" in menu
    assert "page_size%3D20" in menu and "__row_id__" not in html


def test_approve_is_labelled_as_the_review_each_role_performs(world, client_for, session):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    secretariat = client_for(world.secretariat)
    html = secretariat.get("/admin/organization/").text
    assert "审核通过（复审）" in row_menu(html, org.id)
    assert html.count("审核通过（复审）") == 3  # the bulk dropdown, 'all matching' and the row menu
    assert "审核通过（初审）" not in html
    page = secretariat.get(f"/admin/organization/transition/approve/?ids={org.id}").text
    assert "审核通过（复审）" in page and "审核通过（初审）" not in page
    sub_admin = client_for(world.admins["GZ"]).get("/admin/organization/").text
    assert "审核通过（初审）" in row_menu(sub_admin, org.id) and "审核通过（复审）" not in sub_admin
    result = secretariat.post(f"/admin/organization/transition/approve/?ids={org.id}", data={}).text
    assert "审核通过（复审）" in result and "初审" not in result


# --- deleted organisations ---------------------------------------------------------------------------

def test_deleted_organisations_are_hidden_until_the_filter_asks_and_then_marked(world, gz_org, client_for, session):
    deleted = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED, deleted=True, name="已撤销采购公司")
    person = make_person(session, deleted, name="撤销单位人员")
    client = client_for(world.secretariat)
    count, html = listed(client, "/admin/organization/")
    assert count == 1 and "已撤销采购公司" not in html
    arg = filter_arg(html, "已删除")
    count, only = listed(client, f"/admin/organization/?flt0_{arg}=only")
    assert count == 1 and "已撤销采购公司" in only and 'class="badge badge-secondary dd-deleted">已删除<' in only
    count, both = listed(client, f"/admin/organization/?flt0_{arg}=also")
    assert count == 2
    count, persons = listed(client, "/admin/person/")
    assert "撤销单位人员" not in persons
    count, persons = listed(client, f"/admin/person/?flt0_{filter_arg(persons, '所属单位已删除')}=only")
    assert count == 1 and "撤销单位人员" in persons and "dd-deleted" in row_text(persons, person.id)
    # sub-delegation admins never see deleted organisations: no filter to ask for them
    sub_admin = client_for(world.admins["GZ"])
    assert "已删除" not in filter_groups(sub_admin.get("/admin/organization/").text)
    assert "所属单位已删除" not in filter_groups(sub_admin.get("/admin/person/").text)


def test_dashboard_leaves_deleted_organisations_and_their_persons_out(world, gz_org, client_for, session):
    make_person(session, gz_org)
    deleted = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED, deleted=True)
    make_person(session, deleted)
    session.commit()
    rows, totals = dashboard_rows(session, world.secretariat)
    assert totals["org_total"] == 1 and totals["person_total"] == 1
    assert totals["registered"] == 1  # the approved one; the deleted submitted one does not count
    assert client_for(world.secretariat).get("/admin/").status_code == 200


def test_export_and_all_matching_leave_deleted_rows_out_too(world, gz_org, client_for, session):
    make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, deleted=True)
    client = client_for(world.secretariat)
    page = client.get("/admin/organization/transition/delete/?all=1").text
    assert "<strong>1</strong>" in page  # the one not deleted


# --- person filters and the quota counter ------------------------------------------------------------

def test_each_person_filter_finds_its_rows(world, gz_org, client_for, session):
    other = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, name="深圳湾国际贸易有限公司")
    reused = make_person(session, gz_org, name="复用人员", is_reuse=True)
    collected = make_person(session, gz_org, name="自取人员", pickup=Pickup.DELEGATION, entry_days="2025-11-06")
    fifth = make_person(session, other, name="五号入场", entry_days="2025-11-05,2025-11-07")
    issued = make_person(session, gz_org, name="已发证人员", state=PersonState.BADGE_ISSUED, badge_number="E1-9")
    young = make_person(session, gz_org, name="年轻人员", birth_date=date(datetime.now().year - 25, 1, 1))
    old = make_person(session, gz_org, name="年长人员", birth_date=date(datetime.now().year - 70, 1, 1))
    client = client_for(world.admins["GZ"])
    html = client.get("/admin/person/").text

    def names(url):
        page = client.get(url).text
        return {n for n in ("复用人员", "自取人员", "五号入场", "已发证人员", "年轻人员", "年长人员") if n in page}

    assert names(f"/admin/person/?flt0_{filter_arg(html, '证件复用')}=1") == {"复用人员"}
    assert names(f"/admin/person/?flt0_{filter_arg(html, '领取方式')}=delegation") == {"自取人员"}
    day = filter_arg(html, "入场日期")
    assert [v for v, _ in filter_options(html, "入场日期")] == ["2025-11-05", "2025-11-06", "2025-11-07"]
    assert names(f"/admin/person/?flt0_{day}=2025-11-07") == {"五号入场"}
    assert names(f"/admin/person/?flt0_{day}=2025-11-06") == {"自取人员"}
    assert names(f"/admin/person/?flt0_{filter_arg(html, '单位')}=深圳湾") == {"五号入场"}
    assert names(f"/admin/person/?flt0_{filter_arg(html, '单位编号')}={other.id}") == {"五号入场"}
    badge = filter_arg(html, "证件状态")
    assert names(f"/admin/person/?flt0_{badge}=issued") == {"已发证人员"}
    assert "已发证人员" not in names(f"/admin/person/?flt0_{badge}=none")
    age = filter_arg(html, "年龄")
    assert names(f"/admin/person/?flt0_{age}=18-30") == {"年轻人员"}
    assert names(f"/admin/person/?flt0_{age}=61-") == {"年长人员"}
    for person in (reused, collected, fifth, issued, young, old):
        assert person.id  # all of them were made in GZ's scope


def test_entry_day_filter_refuses_a_day_that_is_no_date(world, gz_org, client_for):
    client = client_for(world.admins["GZ"])
    day = filter_arg(client.get("/admin/person/").text, "入场日期")
    response = client.get(f"/admin/person/?flt0_{day}=tomorrow", follow_redirects=True)
    assert response.status_code == 200 and "无效" in response.text


def test_quota_counter_shows_the_sub_delegations_figures(world, gz_org, client_for, session):
    gz = world.subs["GZ"]
    gz.vip_quota, gz.staff_quota, gz.copay_budget = 40, 120, Decimal("10000")
    make_person(session, gz_org, label=Label.VIP, state=PersonState.PENDING_REVIEW)
    make_person(session, gz_org, label=Label.VIP, state=PersonState.CANCELLED)  # holds no slot
    make_person(session, gz_org, label=Label.STAFF, state=PersonState.APPROVED)
    make_person(session, gz_org, state=PersonState.PENDING_REVIEW, copay=CopayDecision.CONFIRMED,
                copay_amount=Decimal("4000"))
    foreign = make_organization(session, world.subs["SZ"], state=OrgState.APPROVED)
    make_person(session, foreign, label=Label.VIP, state=PersonState.APPROVED)
    html = client_for(world.admins["GZ"]).get("/admin/person/").text
    counter = re.sub(r"<[^>]+>", "", html.split('class="dd-figures">', 1)[1].split("</div>", 1)[0])
    assert counter == "广州交易分团VIP 1/40 · 工作人员 1/120 · 统付额度 ¥4,000/¥10,000"


def test_person_form_ticks_entry_days_from_the_edition(world, gz_org, client_for, session):
    person = make_person(session, gz_org, entry_days="2025-11-06")
    client = client_for(world.admins["GZ"])
    form = client.get(f"/admin/person/edit/?id={person.id}").text
    boxes = re.findall(r'name="entry_days" value="([^"]+)"( checked)?', form)
    assert boxes == [("2025-11-05", ""), ("2025-11-06", " checked"), ("2025-11-07", "")]
    assert "11月5日（周三）" in form
    fields = {"name": person.name, "gender": "male", "region_type": "mainland", "id_type": "passport",
              "id_number": person.id_number, "mobile": person.mobile, "pickup": "express"}
    saved = client.post(f"/admin/person/edit/?id={person.id}",
                        data={**fields, "entry_days": ["2025-11-07", "2025-11-05"]})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(Person, person.id).entry_days == "2025-11-05,2025-11-07"
    refused = client.post(f"/admin/person/edit/?id={person.id}", data={**fields, "entry_days": ["2025-12-01"]})
    assert "不是本届的入场日期" in refused.text


# --- search ------------------------------------------------------------------------------------------

@pytest.fixture
def media(world, session):
    """An organisation with a USCC no other test organisation shares the first six characters of."""
    return make_organization(session, world.subs["GZ"], name=MEDIA, uscc=make_uscc(region="310115"),
                             contact_mobile="13912345678")


def test_organisation_found_by_any_part_of_its_name(world, media, gz_org, client_for):
    client = client_for(world.secretariat)
    count, html = listed(client, "/admin/organization/?search=传媒")
    assert count == 1 and MEDIA in html
    assert listed(client, "/admin/organization/?search=精芯传媒")[0] == 1
    assert listed(client, "/admin/organization/?search=广州 传媒")[0] == 1  # every word must match


def test_uscc_and_mobile_found_by_six_leading_characters_not_five(world, media, gz_org, client_for):
    client = client_for(world.secretariat)
    assert listed(client, f"/admin/organization/?search={media.uscc[:6]}")[0] == 1
    assert listed(client, f"/admin/organization/?search={media.uscc[:6].lower()}")[0] == 1
    assert listed(client, f"/admin/organization/?search={media.uscc[:5]}")[0] == 0
    assert listed(client, f"/admin/organization/?search={media.uscc}")[0] == 1
    assert listed(client, "/admin/organization/?search=139 1234")[0] == 1
    assert listed(client, "/admin/organization/?search=13912")[0] == 0


def test_mobile_typed_with_spaces_and_dashes_and_passport_in_lower_case(world, gz_org, client_for, session):
    person = make_person(session, gz_org, name="搜索人员", mobile="13800138000", id_type=IdType.PASSPORT,
                         id_number="E12345678")
    client = client_for(world.admins["GZ"])
    for typed in ("138 0013-8000", "138-0013-8000", "+86 138 0013 8000", "1380013"):
        count, html = listed(client, f"/admin/person/?search={quote(typed)}")
        assert count == 1 and "搜索人员" in html, typed
    assert listed(client, "/admin/person/?search=e12345678")[0] == 1
    assert listed(client, "/admin/person/?search=E1234567")[0] == 0  # an ID number is matched whole
    assert listed(client, "/admin/person/?search=搜索")[0] == 1  # a name by its beginning
    assert person.id


def test_search_box_says_what_it_searches(world, gz_org, client_for):
    html = client_for(world.secretariat).get("/admin/organization/").text
    assert 'placeholder="单位名称（任意部分）、统一社会信用代码或联系人手机（前6位起）"' in html
    html = client_for(world.secretariat).get("/admin/person/").text
    assert 'placeholder="姓名（开头）、证件号码、手机号（前6位起）"' in html
    viewer = client_for(world.viewer).get("/admin/person/").text
    assert 'placeholder="姓名（开头）"' in viewer  # masked columns are not searched


def test_viewer_search_skips_masked_columns(world, gz_org, client_for, session):
    make_person(session, gz_org, name="掩码人员", mobile="13800138000")
    response = client_for(world.viewer).get("/admin/person/?search=13800138000", follow_redirects=True)
    assert list_count(response.text) == 0 and "不能按" in response.text


def test_list_with_search_and_filters_stays_within_three_statements(world, gz_org, media, client_for,
                                                                     count_statements):
    client = client_for(world.secretariat)
    html = client.get("/admin/person/").text
    url = (f"/admin/person/?search=138 0013&flt0_{filter_arg(html, '入场日期')}=2025-11-05"
           f"&flt1_{filter_arg(html, '单位')}=传媒&flt2_{filter_arg(html, '所属单位已删除')}=also")
    client.get(url)
    with count_statements() as statements:
        assert client.get(url).status_code == 200
    assert len(statements) <= 3, "\n\n".join(statements)
    with count_statements() as statements:
        assert client.get("/admin/organization/?search=传媒&sort=1").status_code == 200
    assert len(statements) <= 3, "\n\n".join(statements)


# --- the indexes behind the search -------------------------------------------------------------------

def plan(session, statement) -> str:
    """The database's plan for a SELECT with its values bound, as the application sends it."""
    compiled = statement.compile(session.get_bind())
    params = compiled.params
    if compiled.positiontup:  # SQLite's ? placeholders
        params = tuple(params[key] for key in compiled.positiontup)
    prefix = "EXPLAIN " if session.get_bind().dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    return "\n".join(str(row[-1]) for row in session.connection().exec_driver_sql(prefix + str(compiled), params))


def search_select(model, columns, term, dialect):
    return select(model.id).where(or_(*(column_condition(getattr(model, c), how, term, dialect)
                                        for c, how in columns)))


@pytest.mark.postgresql_only
def test_postgresql_serves_each_search_from_its_index(world, media, session):
    session.execute(text("SET LOCAL enable_seqscan = off"))  # a few test rows: make the planner show its index
    org = [("name", "anywhere"), ("uscc", "leading"), ("contact_mobile", "leading")]
    substring = plan(session, search_select(Organization, org, "精芯传媒", "postgresql"))
    assert "ix_organization_name_search" in substring, substring
    assert "ix_organization_uscc" in substring and "ix_organization_contact_mobile" in substring, substring
    person = [("name", "prefix"), ("id_number", "casefold"), ("mobile", "leading")]
    found = plan(session, search_select(Person, person, "13800138000", "postgresql"))
    for index in ("ix_person_name_prefix", "ix_person_id_number_upper", "ix_person_mobile"):
        assert index in found, found


def test_sqlite_serves_the_person_search_from_its_indexes(world, session, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's plan")
    person = [("name", "prefix"), ("id_number", "casefold"), ("mobile", "leading")]
    found = plan(session, search_select(Person, person, "13800138000", "sqlite"))
    assert "MULTI-INDEX OR" in found, found
    for index in ("ix_person_name_prefix", "ix_person_id_number_upper", "ix_person_mobile"):
        assert index in found, found
