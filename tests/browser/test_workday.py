"""A working day in a real browser: each role does its job on the demo data, and the pages fit the screen."""
from __future__ import annotations

import re

from sqlalchemy import select

from models import Organization, OrgState, Person, SubDelegation

# The list's bulk-action menu: the dropdown whose items run Flask-Admin's modelActions.
BULK_MENU = "li:has(a[onclick*='modelActions']) > a.dropdown-toggle"


def db_rows(live_server, query):
    """Rows read straight from the demo database (outside the browser)."""
    from admin_app.extensions import db
    with live_server.app.app_context():
        rows = db.session.execute(query).all()
        db.session.remove()
    return rows


def sub_id(live_server, code):
    return db_rows(live_server, select(SubDelegation.id).where(SubDelegation.code == code))[0][0]


def fits(page) -> dict:
    """How wide the page and its list table are, against the 1,440-pixel window."""
    return page.evaluate("""() => {
        const t = document.querySelector('table.model-list');
        return {page: document.scrollingElement.scrollWidth, window: window.innerWidth,
                table: t ? t.scrollWidth : 0, box: t ? t.parentElement.clientWidth : 0};
    }""")


def test_a_sub_admin_returns_submitted_organisations_for_edit(tab, live_server):
    gz = sub_id(live_server, "guangzhou")
    submitted = [r.id for r in db_rows(live_server, select(Organization.id).where(
        Organization.sub_delegation_id == gz, Organization.state == OrgState.SUBMITTED.value,
        Organization.deleted_at.is_(None)).order_by(Organization.id.desc()))]
    assert len(submitted) >= 1, "the demo data has submitted organisations in 广州市"
    page = tab.login("guangzhou", "/admin/organization/?flt0_0=submitted")
    tab.screenshot("workday-1-organisations-submitted")
    boxes = page.locator("input.action-checkbox")
    picked = min(2, boxes.count())
    for i in range(picked):
        boxes.nth(i).check()
    page.locator(BULK_MENU).click()
    page.locator(".dropdown-menu a", has_text="退回修改").first.click()
    page.wait_for_load_state("networkidle")
    page.fill("textarea[name=reason]", "营业执照图片不清晰，请重新上传")
    tab.screenshot("workday-2-return-for-edit-reason")
    page.locator("button[type=submit]", has_text="确认执行").click()
    page.wait_for_load_state("networkidle")
    tab.screenshot("workday-3-return-for-edit-result")
    assert re.search(r"已完成\s*%d\s*条" % picked, page.inner_text("body"))
    assert tab.csp_errors() == []


def test_a_sub_admin_cannot_open_another_sub_delegations_record_by_its_url(tab, live_server):
    zhuhai = sub_id(live_server, "zhuhai")
    other = db_rows(live_server, select(Organization.id).where(Organization.sub_delegation_id == zhuhai)
                    .limit(1))[0][0]
    page = tab.login("guangzhou")
    for path in (f"/admin/organization/details/?id={other}", f"/admin/organization/edit/?id={other}"):
        response = page.goto(tab.base + path)
        assert response.status == 404, path
    tab.screenshot("workday-4-forged-url-404")


def test_the_secretariat_reviews_and_reassigns(tab, live_server):
    first_approved = db_rows(live_server, select(Organization.id, Organization.name).where(
        Organization.state == OrgState.FIRST_APPROVED.value, Organization.deleted_at.is_(None))
        .order_by(Organization.id).limit(2))
    assert len(first_approved) == 2
    (review_id, _), (move_id, move_name) = first_approved
    page = tab.login("secretariat")
    page.goto(tab.base + f"/admin/organization/transition/approve/?ids={review_id}")
    assert "复审" in page.inner_text("h3")
    page.get_by_role("button", name=re.compile("确认执行")).click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"已完成\s*1\s*条", page.inner_text("body"))
    page.goto(tab.base + f"/admin/organization/transition/assign_delegation/?ids={move_id}")
    zhuhai_option = page.locator("select[name=sub_delegation_id] option", has_text="珠海市").first.get_attribute("value")
    page.select_option("select[name=sub_delegation_id]", value=zhuhai_option)
    page.get_by_role("button", name=re.compile("确认执行")).click()
    page.wait_for_load_state("networkidle")
    tab.screenshot("workday-5-secretariat-assigned")
    zhuhai = sub_id(live_server, "zhuhai")
    assert db_rows(live_server, select(Organization.sub_delegation_id).where(Organization.id == move_id))[0][0] == zhuhai


def test_a_viewer_sees_masked_id_numbers_and_mobiles(tab, live_server):
    person = db_rows(live_server, select(Person.id, Person.id_number, Person.mobile)
                     .where(Person.id_type == "resident_id", Person.mobile.is_not(None)).limit(1))[0]
    page = tab.login("viewer", "/admin/person/")
    body = page.inner_text("body")
    assert re.search(r"\d{3}\*{6,}\d{3}[\dX]", body), "masked ID numbers on the list"
    page.goto(tab.base + f"/admin/person/details/?id={person.id}")
    details = page.inner_text("body")
    tab.screenshot("workday-6-viewer-person-details")
    assert person.id_number not in details and person.mobile not in details
    assert person.id_number[:3] + "*" in details


def test_switching_language_keeps_the_filters(tab):
    page = tab.login("secretariat", "/admin/person/?flt0_0=pending_review")
    page.locator("a", has_text="English").first.click()
    page.wait_for_load_state("networkidle")
    assert "flt0_0=pending_review" in page.url and "Persons" in page.inner_text("body")
    tab.screenshot("workday-7-english-with-filter")
    page.locator("a", has_text="中文").first.click()
    page.wait_for_load_state("networkidle")
    assert "flt0_0=pending_review" in page.url and "参观人员" in page.inner_text("body")


def test_the_organisation_and_person_lists_fit_1440_pixels(tab):
    page = tab.login("secretariat")
    for path, name in (("/admin/organization/", "organisations"), ("/admin/person/", "persons")):
        page.goto(tab.base + path)
        page.wait_for_load_state("networkidle")
        size = fits(page)
        tab.screenshot(f"workday-8-{name}-at-1440")
        assert size["page"] <= size["window"], (path, size)
        assert size["table"] <= size["box"] + 1, (path, size)


def test_screenshots_of_the_main_pages_for_every_role(tab):
    for account in ("secretariat", "guangzhou", "finance", "viewer"):
        tab.login(account)
        tab.screenshot(f"main-{account}-dashboard")
        for path in ("/admin/organization/", "/admin/person/"):
            tab.goto(path)
            tab.screenshot(f"main-{account}{path.replace('/admin/', '-').rstrip('/')}")
        tab.page.context.clear_cookies()
    assert tab.csp_errors() == []
