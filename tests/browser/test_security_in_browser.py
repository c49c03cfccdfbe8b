"""The back office's own pages satisfy its Content-Security-Policy, and it refuses to be framed."""
from __future__ import annotations

import pytest

PAGES = ["/admin/", "/admin/organization/", "/admin/person/", "/admin/sub_delegation/", "/admin/audit_entry/",
         "/admin/outbox_message/", "/admin/order/"]

# The list's bulk-action menu: the dropdown whose items run Flask-Admin's modelActions.
BULK_MENU = "li:has(a[onclick*='modelActions']) > a.dropdown-toggle"


@pytest.mark.parametrize("account", ["secretariat", "guangzhou", "finance", "viewer"])
def test_no_csp_errors_on_the_main_pages(tab, account):
    tab.login(account)
    for path in PAGES:
        page = tab.goto(path)
        if "/person/" in path and page.locator("a.dropdown-toggle", has_text="添加筛选").count():
            # Flask-Admin's filter menu and bulk-action menu run its inline handlers: they must be allowed.
            page.locator("a.dropdown-toggle", has_text="添加筛选").click()
            page.locator("a.filter").first.click()
            page.wait_for_timeout(200)
    tab.screenshot(f"security-{account}-last-page")
    assert tab.csp_errors() == []


def test_the_bulk_action_menu_runs_under_the_policy(tab):
    page = tab.login("guangzhou", "/admin/person/")
    page.locator("input.action-checkbox").first.check()
    page.locator(BULK_MENU).click()
    page.locator(".dropdown-menu a", has_text="注销").first.click()
    page.wait_for_load_state("networkidle")
    assert "/transition/cancel/" in page.url
    tab.screenshot("bulk-action-parameter-page")
    assert tab.csp_errors() == []


def test_another_site_cannot_frame_the_back_office(tab, live_server):
    page = tab.page
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "frame" in m.text.lower() else None)
    page.set_content(f'<iframe id="f" src="{live_server.url}/login" width="600" height="400"></iframe>')
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert frame.locator("#username").count() == 0
