"""Every page as each role sees it: access, statement budget, dashboard, masking, language."""
from __future__ import annotations

import pytest

from support import ALL_ENDPOINTS, list_count

ROLES = ("secretariat", "sub_admin", "finance", "viewer")


def user_of(world, role):
    return world.admins["GZ"] if role == "sub_admin" else getattr(world, role)


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS)
def test_every_page_requires_login(endpoint, app, world, session):
    session.commit()
    response = app.test_client().get(f"/admin/{endpoint}/")
    assert response.status_code == 302 and "/login" in response.location


def test_index_requires_login_and_login_page_is_chinese(app, world, session):
    client = app.test_client()
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.location
    page = client.get("/login").text
    assert "登录" in page and "用户名" in page and "密码" in page


@pytest.mark.parametrize("endpoint", ALL_ENDPOINTS)
@pytest.mark.parametrize("role", ["secretariat", "sub_admin"])
def test_list_pages_issue_at_most_three_statements(endpoint, role, world, rows, client_for, count_statements):
    client = client_for(user_of(world, role))
    client.get(f"/admin/{endpoint}/")  # warm-up: first request of a client may load more (e.g. flashes)
    with count_statements() as statements:
        response = client.get(f"/admin/{endpoint}/")
    if (endpoint, role) == ("admin_user", "sub_admin"):
        assert response.status_code == 403  # users are the secretariat's page only
        return
    assert response.status_code == 200
    assert len(statements) <= 3, "\n\n".join(statements)


def test_role_matrix_of_menus_and_write_access(world, rows, client_for):
    viewer = client_for(world.viewer)
    assert viewer.get("/admin/organization/").status_code == 200
    assert viewer.get("/admin/organization/new/").status_code == 302  # read-only: sent back to the list
    assert viewer.get("/admin/admin_user/").status_code == 403
    sub_admin = client_for(world.admins["GZ"])
    assert sub_admin.get("/admin/admin_user/").status_code == 403
    assert sub_admin.get("/admin/organization/new/").status_code == 200
    finance = client_for(world.finance)
    assert finance.get("/admin/payment/").status_code == 200
    assert finance.get("/admin/organization/new/").status_code == 302


def test_viewer_sees_id_numbers_and_mobiles_masked(world, rows, client_for, session):
    from models import Person

    person = session.get(Person, rows.of["GZ"][Person])
    html = client_for(world.viewer).get("/admin/person/").text
    assert person.id_number not in html and person.mobile not in html
    assert person.id_number[:3] + "*" in html
    html = client_for(world.secretariat).get("/admin/person/").text
    assert person.id_number in html


def test_dashboard_draws_bars_for_the_users_sub_delegations(world, rows, client_for):
    html = client_for(world.admins["GZ"]).get("/admin/").text
    assert "广州交易分团" in html and "深圳交易分团" not in html
    assert 'class="dd-bar"' in html and "progress-bar" in html
    html = client_for(world.secretariat).get("/admin/").text
    assert "广州交易分团" in html and "深圳交易分团" in html


def test_language_switch_is_remembered(world, rows, client_for):
    client = client_for(world.secretariat)
    assert "单位" in client.get("/admin/organization/").text
    english = client.get("/admin/organization/?lang=en").text
    assert "Organisations" in english and "Submitted" in english
    assert "Organisations" in client.get("/admin/organization/").text
    assert "待审核" in client.get("/admin/organization/?lang=zh_CN").text


def test_search_by_name_prefix_and_exact_codes(world, rows, client_for, session):
    from models import Person

    person = session.get(Person, rows.of["GZ"][Person])
    client = client_for(world.secretariat)
    assert list_count(client.get("/admin/person/?search=GZ人员").text) == 1
    assert list_count(client.get(f"/admin/person/?search={person.id_number}").text) == 1
    assert list_count(client.get("/admin/person/?search=人员甲").text) == 0  # prefix, not substring


def test_details_page_shows_history_and_quota_usage(world, rows, client_for):
    from models import Organization

    client = client_for(world.admins["GZ"])
    org_id = rows.of["GZ"][Organization]
    client.post(f"/admin/organization/transition/return_for_edit/?ids={org_id}", data={"reason": "营业执照不清晰"})
    html = client.get(f"/admin/organization/details/?id={org_id}").text
    assert "退回修改" in html and "营业执照不清晰" in html and "organization.returned_for_edit" not in html
    assert "额度使用" in html
