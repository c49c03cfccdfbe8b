"""The organisation and person lists fit a 1,440-pixel screen, and a row's menu opens over the rows below."""
from __future__ import annotations

import pytest

WIDTHS = """() => {
  const table = document.querySelector('table.model-list');
  return {page: document.scrollingElement.scrollWidth, scroll: table.scrollWidth, client: table.clientWidth,
          box: table.closest('.table-responsive').scrollWidth, boxClient: table.closest('.table-responsive').clientWidth};
}"""


@pytest.mark.parametrize("account", ["secretariat", "guangzhou", "viewer"])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_lists_fit_without_horizontal_scrolling(tab, account, language):
    tab.login(account)
    for path in ("/admin/organization/", "/admin/person/"):
        page = tab.goto(f"{path}?lang={language}")
        widths = page.evaluate(WIDTHS)
        assert widths["page"] <= 1440, (path, widths)
        assert widths["scroll"] <= widths["client"] and widths["box"] <= widths["boxClient"], (path, widths)
        assert page.locator("table.model-list tbody tr").count() >= 10  # rows to measure, not an empty list
    tab.screenshot(f"lists-fit-{account}-{language}")


def test_row_menu_opens_with_the_rows_actions(tab):
    page = tab.login("guangzhou", "/admin/person/")
    toggle = page.locator(".dd-row-menu button.dropdown-toggle").last
    toggle.scroll_into_view_if_needed()
    toggle.click()
    items = page.locator(".dropdown-menu.show .dropdown-item")
    assert items.count() >= 1 and items.first.is_visible()
    tab.screenshot("row-menu-open")
    assert tab.csp_errors() == []
