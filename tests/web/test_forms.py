"""Create and edit forms: scope-deciding fields locked, identity numbers checked, errors readable."""
from __future__ import annotations

from sqlalchemy import func, select

from factories import make_uscc
from models import Organization, Person


def org_form(world, **overrides):
    data = {"sub_delegation": world.subs["GZ"].id, "edition": world.edition.id, "name": "新建测试单位",
            "uscc": make_uscc(), "category": "enterprise", "contact_mobile": "13912345678",
            "purchase_intentions": "进口乳制品", "vip_quota": 0, "staff_quota": 0}
    data.update(overrides)
    return data


def test_sub_admin_creates_an_organisation_in_own_sub_delegation(world, client_for, session):
    client = client_for(world.admins["GZ"])
    response = client.post("/admin/organization/new/", data=org_form(world))
    assert response.status_code == 302
    org = session.scalar(select(Organization).where(Organization.name == "新建测试单位"))
    assert org.sub_delegation_id == world.subs["GZ"].id and org.state.value == "draft"


def test_bad_uscc_is_refused_with_a_reason(world, client_for, session):
    client = client_for(world.admins["GZ"])
    response = client.post("/admin/organization/new/", data=org_form(world, uscc="91440101MA59ABCD10"),
                           follow_redirects=True)
    assert "统一社会信用代码" in response.text
    assert session.scalar(select(func.count()).select_from(Organization)) == 0


def test_duplicate_uscc_says_so(world, client_for, session):
    client = client_for(world.admins["GZ"])
    uscc = make_uscc()
    assert client.post("/admin/organization/new/", data=org_form(world, uscc=uscc)).status_code == 302
    again = client.post("/admin/organization/new/", data=org_form(world, uscc=uscc, name="另一家"),
                        follow_redirects=True)
    assert "该统一社会信用代码本届已注册" in again.text


def test_edit_form_cannot_move_an_organisation_to_another_sub_delegation(world, rows, client_for, session):
    org_id = rows.of["GZ"][Organization]
    client = client_for(world.admins["GZ"])
    form = client.get(f"/admin/organization/edit/?id={org_id}").text
    assert 'name="sub_delegation"' not in form
    client.post(f"/admin/organization/edit/?id={org_id}",
                data=org_form(world, sub_delegation=world.subs["SZ"].id, name="改名单位", uscc=""))
    session.expire_all()
    org = session.get(Organization, org_id)
    assert org.sub_delegation_id == world.subs["GZ"].id


def test_person_resident_id_is_checked_and_fills_the_birth_date(world, rows, client_for, session):
    org_id = rows.of["GZ"][Organization]
    client = client_for(world.admins["GZ"])
    base = {"organization": org_id, "name": "王小明", "gender": "male", "region_type": "mainland",
            "id_type": "resident_id", "pickup": "express"}
    bad = client.post("/admin/person/new/", data={**base, "id_number": "440101199001011235"}, follow_redirects=True)
    assert "校验" in bad.text or "身份证" in bad.text
    assert session.scalar(select(func.count()).select_from(Person).where(Person.name == "王小明")) == 0
    good = client.post("/admin/person/new/", data={**base, "id_number": "11010519491231002X"})
    assert good.status_code == 302
    person = session.scalar(select(Person).where(Person.name == "王小明"))
    assert str(person.birth_date) == "1949-12-31" and person.sub_delegation_id == world.subs["GZ"].id


def test_sub_admin_reports_a_deal_for_own_organisation_only(world, rows, client_for, session):
    from models import DealIntention

    client = client_for(world.admins["GZ"])
    own, foreign = rows.of["GZ"][Organization], rows.of["SZ"][Organization]
    data = {"exhibitor": "法国某酒庄", "amount": "50000", "currency": "EUR"}
    assert client.post("/admin/deal_intention/new/", data={**data, "organization": own}).status_code == 302
    deal = session.scalar(select(DealIntention).where(DealIntention.exhibitor == "法国某酒庄"))
    assert deal.sub_delegation_id == world.subs["GZ"].id and deal.reported_by_id == world.admins["GZ"].id
    client.post("/admin/deal_intention/new/", data={**data, "exhibitor": "伪造展商", "organization": foreign})
    assert session.scalar(select(func.count()).select_from(DealIntention)
                          .where(DealIntention.exhibitor == "伪造展商")) == 0


def edit_form_data(client, endpoint, row_id) -> dict:
    """The edit form's current values as a browser would post them back."""
    import re
    page = client.get(f"/admin/{endpoint}/edit/?id={row_id}").text
    data = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and (not re.search(r'type="checkbox"', tag) or re.search(r"\bchecked\b", tag)):
            data[name.group(1)] = value.group(1) if value else "y"
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', body)
        if selected:
            data[name] = selected.group(1) or selected.group(2)
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        data[name] = value.strip()
    return data


def test_a_form_edit_by_a_sub_admin_is_audited_with_the_changed_fields(world, client_for, session):
    from factories import make_organization
    from models import AuditEntry, OrgState
    org = make_organization(session, world.subs["GZ"], state=OrgState.DRAFT, vip_quota=0, staff_quota=0)
    session.commit()
    client = client_for(world.admins["GZ"])
    data = edit_form_data(client, "organization", org.id)
    data.update(name="改过名的单位", contact_name="陈静")
    assert client.post(f"/admin/organization/edit/?id={org.id}", data=data).status_code == 302
    session.expire_all()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.object_id == org.id,
                                                    AuditEntry.action == "organization.edited"))
    assert entry.actor_id == world.admins["GZ"].id
    assert set(entry.params) == {"name", "contact_name"} and entry.params["name"][1] == "改过名的单位"


def test_a_locked_field_is_refused_on_the_field_and_nothing_is_written(world, client_for, session):
    from factories import make_organization
    from models import AuditEntry, OrgState
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED, vip_quota=0, staff_quota=0)
    session.commit()
    client = client_for(world.admins["GZ"])
    data = edit_form_data(client, "organization", org.id)
    data.update(name="提交后改名")
    page = client.post(f"/admin/organization/edit/?id={org.id}", data=data, follow_redirects=True)
    assert page.status_code == 200
    assert "单位信息已提交，「单位名称」不能再修改" in page.text
    session.expire_all()
    assert session.get(Organization, org.id).name != "提交后改名"
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "organization.edited")) == 0
