"""Readable everywhere, in the user's language: no English or raw code on Chinese pages, history and audit
log in words, Beijing time to the minute, error pages in the layout, a language link that keeps the page."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from factories import make_organization
from models import AuditEntry, Channel, Order, Organization, OrgState, OutboxMessage, Person, Refund, User
from models.registration.operations import assign_delegation, edit_organization, return_organizations_for_edit
from support import VIEW_ENDPOINTS, app_config

ROLES = ("secretariat", "sub_admin", "finance", "viewer")
# What leaked into the Chinese pages before: Flask-Admin's own words, unlabelled columns, raw values and codes.
LEAKS = ("Vip Used", "Staff Used", "Copay Used", "Delegation", "True", "False", "Please select",
         "请选择模型", "items", "项目", "organization.returned_for_edit", "organization.delegation_assigned",
         "organization.edited", "submitted → returned", "sub_delegation_id", "person_please_pay", "contact_mobile",
         "History", "Parameters")
SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # a code (pending_lock, sub_delegation_id), never a word
AT = datetime(2025, 10, 9, 6, 5, 30, tzinfo=timezone.utc)  # 14:05 in Beijing


def user_of(world, role):
    return world.admins["GZ"] if role == "sub_admin" else getattr(world, role)


class VisibleText(HTMLParser):
    """The text a person reads: element text and the placeholders and tooltips, not scripts or data blocks."""

    HIDDEN = ("script", "style")
    DATA_BLOCKS = ("filter-groups-data", "active-filters-data")

    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN or attrs.get("id") in self.DATA_BLOCKS or self.hidden:
            self.hidden.append(tag)
        for key in ("placeholder", "data-placeholder", "title"):
            if attrs.get(key):
                self.parts.append(attrs[key])

    def handle_endtag(self, tag):
        if self.hidden and self.hidden[-1] == tag:
            self.hidden.pop()

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


@pytest.fixture
def history(world, rows, session):
    """An organisation returned for edit and reassigned, another edited, a please-pay SMS: words to show."""
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    returned = session.get(Organization, rows.of["GZ"][Organization])
    return_organizations_for_edit(session, [returned.id], actor=world.admins["GZ"], reason="营业执照不清晰", now=AT)
    moved = make_organization(session, gz, state=OrgState.SUBMITTED, uscc_recognised=False, name="GZ移交单位")
    assign_delegation(session, [moved.id], actor=world.secretariat, sub_delegation_id=sz.id, now=AT)
    edited = make_organization(session, gz, state=OrgState.DRAFT, contact_mobile="13800138000", name="GZ改号单位")
    edit_organization(session, edited, {"contact_mobile": "13900139000"}, actor=world.admins["GZ"], now=AT)
    person = session.get(Person, rows.of["GZ"][Person])
    session.add(OutboxMessage(channel=Channel.SMS, recipient=person.mobile, template="person_please_pay",
                              object_type="person", object_id=person.id, sub_delegation_id=gz.id, created_at=AT))
    session.commit()
    return {"returned": returned.id, "moved": moved.id, "edited": edited.id}


def pages_of(client, rows) -> list[str]:
    """The home page, every list, a details page of every kind of row and the create forms the user may open."""
    urls = ["/admin/"] + [f"/admin/{endpoint}/" for endpoint in VIEW_ENDPOINTS.values()]
    urls += ["/admin/sub_delegation/", "/admin/expo_edition/", "/admin/delegation/", "/admin/admin_user/"]
    urls += [f"/admin/{endpoint}/details/?id={rows.of['GZ'][model]}" for model, endpoint in VIEW_ENDPOINTS.items()]
    urls += [f"/admin/{endpoint}/new/" for endpoint in ("organization", "person", "org_address", "deal_intention")]
    # The pages beside the lists: imports, reports, jobs, mass e-mail, and an action page of each kind.
    urls += ["/admin/imports/", "/admin/imports/registration", "/admin/imports/targets", "/admin/reports/",
             "/admin/jobs/", "/admin/mass_mail/", "/admin/account/",
             f"/admin/person/transition/create_orders/?ids={rows.of['GZ'][Person]}",
             f"/admin/person/transition/request_refund/?ids={rows.of['GZ'][Person]}",
             f"/admin/person/transition/set_label/?ids={rows.of['GZ'][Person]}",
             f"/admin/badge_order/transition/submit_voucher/?ids={rows.of['GZ'][Order]}",
             f"/admin/badge_order/transition/request_invoice/?ids={rows.of['GZ'][Order]}",
             f"/admin/refund/transition/batch_refund/?ids={rows.of['GZ'][Refund]}"]
    return urls


@pytest.mark.parametrize("role", ROLES)
def test_chinese_pages_show_no_english_and_no_codes(role, world, rows, history, client_for):
    client = client_for(user_of(world, role))
    urls = pages_of(client, rows) + [f"/admin/organization/details/?id={history['returned']}",
                                     f"/admin/sub_delegation/details/?id={world.subs['GZ'].id}"]
    seen = 0
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            continue  # pages this role may not open are another test's business
        seen += 1
        text = visible(response.text)
        for leak in LEAKS:
            assert leak not in text, (url, leak, text[max(0, text.find(leak) - 80):text.find(leak) + 80])
        codes = SNAKE_CASE.findall(text)
        assert not codes, (url, codes[:5])
    assert seen >= 15, seen


def test_history_shows_actions_states_and_parameters_in_words(world, history, client_for):
    client = client_for(world.secretariat)
    page = visible(client.get(f"/admin/organization/details/?id={history['returned']}").text)
    assert "退回修改" in page and "待审核 → 退回修改" in page and "退回修改意见：营业执照不清晰" in page
    page = visible(client.get(f"/admin/organization/details/?id={history['moved']}").text)
    assert "指定分团" in page and "交易分团：深圳交易分团" in page


def test_edits_show_old_and_new_values_masked_for_everyone(world, history, client_for):
    for user in (world.admins["GZ"], world.viewer):
        page = visible(client_for(user).get(f"/admin/organization/details/?id={history['edited']}").text)
        assert "联系人手机：138****8000 → 139****9000" in page
        assert "13800138000" not in page and "13900139000" not in page.split("操作记录")[-1]


def test_viewers_see_no_more_of_a_birth_date_in_the_history_than_on_the_page(world, rows, client_for, session):
    from models.audit.operations import record

    person = rows.of["GZ"][Person]
    for birth_date in ("1990-05-17", "199***5-17"):  # written before masking, and masked when written
        record(session, actor=world.secretariat, action="person.edited", object_type="person", object_id=person,
               sub_delegation_id=world.subs["GZ"].id, params={"birth_date": [None, birth_date]}, now=AT)
    session.commit()
    page = visible(client_for(world.viewer).get(f"/admin/person/details/?id={person}").text).split("操作记录")[-1]
    assert "出生日期：（空） → 1990" in page and "出生日期：（空） → ****" in page and "5-17" not in page
    page = visible(client_for(world.secretariat).get(f"/admin/person/details/?id={person}").text)
    assert "出生日期：（空） → 1990-05-17" in page


def test_audit_log_in_words_with_objects_linked_and_names_looked_up_once(world, history, client_for, session,
                                                                          count_statements):
    client = client_for(world.secretariat)
    client.get("/admin/audit_entry/")
    with count_statements() as statements:
        html = client.get("/admin/audit_entry/").text
    # the user, the count, the page and one lookup of every name the page's parameters refer to
    assert len(statements) <= 4, "\n\n".join(statements)
    text = visible(html)
    assert "指定分团" in text and "目标交易分团：深圳交易分团" in text and "单位" in text
    assert f'href="/admin/organization/details/?id={history["moved"]}"' in html
    entry = session.scalar(select(AuditEntry.id).where(AuditEntry.object_id == history["returned"],
                                                        AuditEntry.action == "organization.returned_for_edit"))
    details = visible(client.get(f"/admin/audit_entry/details/?id={entry}").text)
    assert "退回修改" in details and "待审核 → 退回修改" in details and "营业执照不清晰" in details


def test_outbox_names_templates_and_keeps_recipients_masked(world, rows, history, client_for, session):
    person = session.get(Person, rows.of["GZ"][Person])
    text = visible(client_for(world.secretariat).get("/admin/outbox_message/").text)
    assert "缴费通知（短信）" in text and "参观人员" in text and person.mobile in text
    text = visible(client_for(world.viewer).get("/admin/outbox_message/").text)
    assert "缴费通知（短信）" in text and person.mobile not in text and person.mobile[:3] + "*" in text


def test_times_are_beijing_time_to_the_minute(world, history, client_for):
    client = client_for(world.secretariat)
    page = visible(client.get(f"/admin/organization/details/?id={history['returned']}").text)
    assert "2025-10-09 14:05" in page and "06:05" not in page and "14:05:30" not in page
    assert "2025-10-09 14:05" in visible(client.get("/admin/audit_entry/").text)


def test_export_keeps_real_datetimes_in_beijing_time_and_words(world, history, client_for):
    response = client_for(world.secretariat).get("/admin/audit_entry/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    returned = [r for r in rows[1:] if "营业执照不清晰" in str(r)]
    assert returned and returned[0][0] == datetime(2025, 10, 9, 14, 5, 30) and "退回修改" in returned[0]
    assert not any("organization.returned_for_edit" in str(r) for r in rows)


def test_yes_no_labels_and_names_on_details_pages(world, rows, client_for):
    client = client_for(world.secretariat)
    text = visible(client.get(f"/admin/organization/details/?id={rows.of['GZ'][Organization]}").text)
    assert "往届观众" in text and ("是" in text.split("往届观众")[1][:5] or "否" in text.split("往届观众")[1][:5])
    text = visible(client.get(f"/admin/sub_delegation/details/?id={world.subs['GZ'].id}").text)
    assert "VIP已用" in text and "交易团" in text and world.delegation.name in text
    english = visible(client.get(f"/admin/sub_delegation/details/?id={world.subs['GZ'].id}&lang=en").text)
    assert "VIP used" in english and "Delegation" in english and "Co-payment used (CNY)" in english


def test_english_pages_show_english_labels(world, history, client_for):
    client = client_for(world.secretariat)
    text = visible(client.get(f"/admin/organization/details/?id={history['moved']}&lang=en").text)
    assert "History" in text and "Assign sub-delegation" in text and "Target sub-delegation: 深圳交易分团" in text
    assert "Sub-delegation" in text and "操作记录" not in text
    text = visible(client.get("/admin/audit_entry/").text)  # the choice is remembered
    assert "Organisation" in text and "State change" in text and "50 per page" in text


def test_page_size_menu_and_select_placeholder_in_words(world, rows, client_for, app):
    client = client_for(world.admins["GZ"])
    text = visible(client.get("/admin/person/").text)
    assert "50 条/页" in text and all(f"每页 {n} 条" in text for n in (20, 50, 100, 200))
    assert 'data-placeholder="请选择"' in client.get("/admin/person/new/").text
    # Flask-Admin builds the menu's msgids from the options: ours translate these four
    for view in app.extensions["admin"][0]._views:
        assert set(getattr(view, "page_size_options", None) or ()) <= {20, 50, 100, 200}, view


def test_filter_operations_read_as_words(world, rows, client_for):
    html = client_for(world.secretariat).get("/admin/person/").text
    assert "不是之间" not in html and "在列表中" not in html
    assert "\\u5c5e\\u4e8e" in html or "属于" in html  # in list -> 属于 (the filter menu is JSON in the page)


def test_404_and_403_pages_use_the_layout_with_a_way_back(world, rows, client_for, app, session):
    client = client_for(world.admins["GZ"])
    response = client.get("/admin/organization/details/?id=999999")
    assert response.status_code == 404
    text = visible(response.text)
    assert "页面不存在" in text and "交易团管理后台" in text and "退出登录" in text  # the layout's navbar
    assert 'href="/admin/organization/"' in response.text and "返回列表" in text and "返回首页" in text
    response = client.get("/admin/admin_user/")
    assert response.status_code == 403
    assert "无权访问" in visible(response.text) and "返回列表" not in visible(response.text)
    assert 'href="/admin/"' in response.text
    response = client.get("/admin/no-such-page/?lang=en")
    assert response.status_code == 404
    assert "Page not found" in response.text and "Back to the home page" in response.text
    anonymous = app.test_client().get("/no-such-page")
    assert anonymous.status_code == 404 and "页面不存在" in anonymous.text and "/login" in anonymous.text


def test_500_page_uses_the_layout(database_url, engine, tmp_path, world, session):
    from admin_app import create_app

    session.commit()
    app = create_app(app_config(database_url, tmp_path, PROPAGATE_EXCEPTIONS=False))

    @app.route("/admin/failing")
    def failing():
        raise RuntimeError("a secret detail")

    response = app.test_client().get("/admin/failing")
    assert response.status_code == 500
    assert "系统出错" in response.text and "交易团管理后台" in response.text
    assert "secret detail" not in response.text and "RuntimeError" not in response.text


def language_link(html: str) -> str:
    return re.search(r'class="nav-link dd-language" href="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_language_link_keeps_path_filters_search_and_next(world, rows, client_for, app):
    client = client_for(world.secretariat)
    html = client.get("/admin/person/?flt0_0=saved&search=GZ&sort=1&page=0").text
    link = language_link(html)
    assert link.startswith("/admin/person/?") and "flt0_0=saved" in link and "search=GZ" in link
    assert "sort=1" in link and "page=0" in link and link.endswith("lang=en")
    person = rows.of["GZ"][Person]
    link = language_link(client.get(f"/admin/person/details/?id={person}&url=/admin/person/%3Fpage%3D1").text)
    assert f"id={person}" in link and "url=%2Fadmin%2Fperson%2F%3Fpage%3D1" in link  # the way back is kept
    link = language_link(client.get(f"/admin/person/details/?id={person}&url=/\\evil.example").text)
    assert f"id={person}" in link and "evil" not in link  # but never a way off the site
    login = app.test_client().get("/login?next=/admin/person/%3Fflt0_0%3Dsaved").text
    link = re.search(r'class="dd-language" href="([^"]+)"', login).group(1).replace("&amp;", "&")
    assert link.startswith("/login?next=") and "flt0_0" in link and link.endswith("lang=en")


def test_the_language_chosen_on_the_login_page_survives_sign_in(world, session, app):
    from factories import PASSWORD

    session.commit()
    client = app.test_client()
    client.get("/login?lang=en")
    client.post("/login", data={"username": world.finance.username, "password": PASSWORD})
    assert "Sign out" in client.get("/admin/").text


def test_a_users_language_is_a_choice_and_is_honoured(world, session, client_for, app):
    from factories import PASSWORD

    client = client_for(world.secretariat)
    form = client.get(f"/admin/admin_user/edit/?id={world.viewer.id}").text
    select = re.search(r'<select[^>]*name="locale"[^>]*>(.*?)</select>', form, re.S)
    assert select and 'value="zh_CN"' in select.group(1) and 'value="en"' in select.group(1)
    assert "中文" in select.group(1) and "English" in select.group(1)
    session.execute(User.__table__.update().where(User.id == world.viewer.id).values(locale="en"))
    session.commit()
    viewer = app.test_client()
    viewer.post("/login", data={"username": world.viewer.username, "password": PASSWORD})
    assert "Sign out" in viewer.get("/admin/").text
    assert "退出登录" in viewer.get("/admin/?lang=zh_CN").text  # a click still wins for the session


def plain(text):
    """A catalog's msgid or msgstr, singular or plural, in one comparable shape."""
    return tuple(text) if isinstance(text, (list, tuple)) else text


def test_our_catalogs_are_compiled():
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from admin_app.i18n import TRANSLATIONS

    for po in Path(TRANSLATIONS).rglob("*.po"):
        with open(po, "rb") as source, open(po.with_suffix(".mo"), "rb") as compiled:
            expected = {plain(m.id): plain(m.string) for m in read_po(source) if m.id}
            actual = {plain(m.id): plain(m.string) for m in read_mo(compiled) if m.id}
        assert actual == expected, f"{po}: run python3 -m admin_app.i18n compile"


def test_entries_in_words_need_no_request():
    from models import SubDelegation, present

    names = {(SubDelegation, 7): "珠海市"}
    assert present.describe_params("organization", "organization.delegation_assigned", {"sub_delegation_id": 7},
                                   "zh", names) == ["目标交易分团：珠海市"]
    assert present.describe_params("organization", "organization.delegation_assigned", {"sub_delegation_id": 7},
                                   "en", names) == ["Target sub-delegation: 珠海市"]
    assert present.describe_params("organization", "organization.edited",
                                   {"contact_mobile": ["138****8000", "139****9000"], "category": [None, "enterprise"]},
                                   "zh") == ["联系人手机：138****8000 → 139****9000", "单位观众分类：（空） → 企业"]
    assert present.referenced_ids("user", "user.created", {"sub_delegations": [7, 8]}) == {SubDelegation: {7, 8}}
    assert present.state_change("organization", "submitted", "returned") == "待审核 → 退回修改"
    assert present.state_change("person", None, "saved", "en") == "Saved"
    assert present.object_label("org_address") == "快递地址" and present.object_label("user", "en") == "User"
    assert present.template_label("person_please_pay", Channel.SMS) == "缴费通知（短信）"
    assert present.beijing_minute(AT) == "2025-10-09 14:05"
    assert present.beijing_minute(AT.replace(tzinfo=None)) == "2025-10-09 14:05"  # SQLite hands back naive UTC
    assert present.field_label(present.model_for("sub_delegation"), "delegation") == "交易团"


def test_audit_filters_offer_actions_and_object_types_in_the_users_language(world, rows, client_for):
    client = client_for(world.secretariat)
    chinese = client.get("/admin/audit_entry/").text
    assert "\\u9000\\u56de\\u4fee\\u6539" in chinese or "退回修改" in chinese  # 单位：退回修改 in the filter menu
    english = client.get("/admin/audit_entry/?lang=en").text
    assert "Organisation: Return for edit" in english


CJK = re.compile(r"[\u4e00-\u9fff]")
CHROME = re.compile(r"<(th|label|button|h[1-6]|option)\b[^>]*>(.*?)</\1>", re.S)


@pytest.mark.parametrize("role", ("secretariat", "sub_admin", "finance"))
def test_english_pages_name_their_columns_fields_and_buttons_in_english(role, world, rows, history, client_for):
    """Headings, column heads, form labels, options and buttons: no Chinese left when English is chosen
    (the rows' own values, names of organisations and persons, stay as they were entered)."""
    client = client_for(user_of(world, role))
    client.get("/admin/?lang=en")
    leaks = []
    for url in pages_of(client, rows):
        response = client.get(url)
        if response.status_code != 200:
            continue
        for tag, inner in CHROME.findall(response.text):
            words = re.sub(r"<[^>]+>", "", inner).strip()
            if CJK.search(words) and not any(name in words for name in DATA_NAMES):
                leaks.append((url, tag, words[:60]))
    assert not leaks, leaks[:20]


# Values entered as data that may stand in a heading or an option (sub-delegations, organisations, persons).
DATA_NAMES = ("交易分团", "单位甲", "人员甲", "预分配单位", "展商", "市", "收件人", "地址", "进口博览会",
              "中文")  # the edition's name is data; 中文 names the language in itself, as language menus do
