"""Row scope on every path: a sub-delegation admin never sees, counts, opens, edits, exports or acts on another's rows."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from models import Organization, Person, visible
from support import VIEW_ENDPOINTS, list_count

SCOPED = list(VIEW_ENDPOINTS.items())


@pytest.mark.parametrize("model,endpoint", SCOPED, ids=[e for _, e in SCOPED])
def test_list_and_count_show_only_own_rows(model, endpoint, world, rows, client_for, session):
    client = client_for(world.admins["GZ"])
    html = client.get(f"/admin/{endpoint}/").text
    own = session.scalar(select(func.count()).select_from(model).where(visible(world.admins["GZ"], model)))
    assert list_count(html) == own
    assert f'value="{rows.of["SZ"][model]}"' not in html  # the row checkbox of the other sub-delegation


@pytest.mark.parametrize("model,endpoint", SCOPED, ids=[e for _, e in SCOPED])
def test_forged_id_answers_404_on_details_edit_and_post(model, endpoint, world, rows, client_for, session):
    client = client_for(world.admins["GZ"])
    foreign = rows.of["SZ"][model]
    own = rows.of["GZ"][model]
    assert client.get(f"/admin/{endpoint}/details/?id={own}").status_code == 200
    assert client.get(f"/admin/{endpoint}/details/?id={foreign}").status_code == 404
    edit = client.get(f"/admin/{endpoint}/edit/?id={foreign}")
    assert edit.status_code in (404, 302)  # 302: the view is read-only for this role and sends back to the list
    before = session.get(model, foreign).__dict__.copy()
    response = client.post(f"/admin/{endpoint}/edit/?id={foreign}", data={"name": "hijacked", "exhibitor": "x"})
    assert response.status_code in (404, 302)
    session.expire_all()
    after = session.get(model, foreign)
    for key, value in before.items():
        if not key.startswith("_"):
            assert getattr(after, key) == value


@pytest.mark.parametrize("model,endpoint", SCOPED, ids=[e for _, e in SCOPED])
def test_export_contains_only_own_rows(model, endpoint, world, rows, client_for, session):
    client = client_for(world.admins["GZ"])
    response = client.get(f"/admin/{endpoint}/export.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    exported = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    own = session.scalar(select(func.count()).select_from(model).where(visible(world.admins["GZ"], model)))
    assert len(exported) == own
    assert "SZ" not in repr(exported) and "深圳" not in repr(exported)


def test_ajax_lookup_and_dropdowns_are_scoped(world, rows, client_for):
    client = client_for(world.admins["GZ"])
    found = client.get("/admin/person/ajax/lookup/?name=organization&query=单位甲").get_json()
    names = [label for _, label in found]
    assert names == ["GZ单位甲"]
    form = client.get("/admin/quota_allocation/new/").text
    assert "广州交易分团" in form and "深圳交易分团" not in form


def test_forged_sub_delegation_in_create_is_refused(world, rows, client_for, session):
    client = client_for(world.admins["GZ"])
    sz = world.subs["SZ"].id
    client.post("/admin/quota_allocation/new/", data={
        "edition": world.edition.id, "sub_delegation": sz, "uscc": "91440300MA5FORGED1",
        "organization_name": "伪造", "vip_quota": 1, "staff_quota": 1})
    from models import QuotaAllocation
    assert session.scalar(select(func.count()).select_from(QuotaAllocation)
                          .where(QuotaAllocation.organization_name == "伪造")) == 0


@pytest.mark.parametrize("endpoint,model,action,params", [
    ("organization", Organization, "return_for_edit", {"reason": "请补充材料"}),
    ("person", Person, "confirm_copay", {}),
])
def test_forged_ids_in_action_post_change_nothing(endpoint, model, action, params, world, rows, client_for, session):
    client = client_for(world.admins["GZ"])
    foreign = rows.of["SZ"][model]
    before = session.get(model, foreign).state
    response = client.post(f"/admin/{endpoint}/transition/{action}/?ids={foreign}", data=params)
    assert response.status_code == 200
    assert "不存在或不在您的权限范围内" in response.text
    session.expire_all()
    assert session.get(model, foreign).state == before


def test_secretariat_sees_both_sub_delegations(world, rows, client_for):
    client = client_for(world.secretariat)
    html = client.get("/admin/organization/").text
    assert list_count(html) == 2 and "GZ单位甲" in html and "SZ单位甲" in html
