"""Creates and edits are audited domain operations that obey the seeds' edit rules, whoever calls them."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from factories import audit_entries, make_organization, make_person, make_uscc
from models import (AuditEntry, Label, OrgCategory, Organization, OrgState, Person, PersonState, SubDelegation,
                    User)
from models.delegation import operations as delegation_ops
from models.errors import InvalidParameter, NotAllowed
from models.registration import operations as ops

RESIDENT_ID = "11010519491231002X"


def org_values(world, code="GZ", **kw):
    values = dict(sub_delegation_id=world.subs[code].id, name="广州新报名单位有限公司", uscc=make_uscc(),
                  category=OrgCategory.ENTERPRISE.value, purchase_intentions="工业机器人", contact_name="王伟",
                  contact_mobile="13800138000", vip_quota=0, staff_quota=0)
    values.update(kw)
    return values


def test_creating_an_organisation_is_audited_with_its_values(session, world):
    org = ops.create_organization(session, org_values(world), actor=world.admins["GZ"])
    entry = audit_entries(session, "organization", org.id)[-1]
    assert entry.action == "organization.created" and entry.actor_id == world.admins["GZ"].id
    assert entry.sub_delegation_id == world.subs["GZ"].id and entry.to_state == "draft"
    assert entry.params["name"] == "广州新报名单位有限公司"
    assert entry.params["contact_mobile"] == "138****8000"  # personal numbers are masked in the log


def test_an_admin_cannot_create_in_another_sub_delegation(session, world):
    with pytest.raises(NotAllowed):
        ops.create_organization(session, org_values(world, "SZ"), actor=world.admins["GZ"])


def test_an_edit_records_the_changed_fields_only(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.DRAFT, vip_quota=0, staff_quota=0)
    changes = ops.edit_organization(session, org, {"name": "新名称有限公司", "industry": org.industry,
                                                  "contact_mobile": "13900139000"}, actor=world.admins["GZ"])
    assert set(changes) == {"name", "contact_mobile"}
    entry = audit_entries(session, "organization", org.id, action="organization.edited")[-1]
    assert entry.params["name"][1] == "新名称有限公司"
    assert entry.params["contact_mobile"] == [entry.params["contact_mobile"][0], "139****9000"]


def test_an_edit_that_changes_nothing_writes_nothing(session, world):
    org = make_organization(session, world.subs["GZ"], vip_quota=0, staff_quota=0)
    before = len(audit_entries(session))
    assert ops.edit_organization(session, org, {"name": org.name}, actor=world.admins["GZ"]) == {}
    assert len(audit_entries(session)) == before


@pytest.mark.parametrize("state", [OrgState.SUBMITTED, OrgState.FIRST_APPROVED, OrgState.APPROVED])
def test_a_submitted_organisation_is_locked_for_the_sub_delegation_but_its_contacts(session, world, state):
    org = make_organization(session, world.subs["GZ"], state=state, vip_quota=0, staff_quota=0)
    before = len(audit_entries(session))
    with pytest.raises(InvalidParameter, match="单位信息已提交，「单位名称」不能再修改") as refused:
        ops.edit_organization(session, org, {"name": "改名"}, actor=world.admins["GZ"])
    assert refused.value.field == "name" and len(audit_entries(session)) == before
    ops.edit_organization(session, org, {"contact_name": "李娜"}, actor=world.admins["GZ"])
    ops.edit_organization(session, org, {"name": "秘书处更正的名称"}, actor=world.secretariat)
    assert [e.actor_id for e in audit_entries(session, "organization", org.id, action="organization.edited")] == [
        world.admins["GZ"].id, world.secretariat.id]


def test_a_returned_organisation_is_open_again(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.RETURNED, vip_quota=0, staff_quota=0)
    ops.edit_organization(session, org, {"name": "补充后的名称"}, actor=world.admins["GZ"])
    assert org.name == "补充后的名称"


def test_the_sub_delegation_is_changed_only_by_assignment(session, world):
    org = make_organization(session, world.subs["GZ"], vip_quota=0, staff_quota=0)
    with pytest.raises(InvalidParameter, match="指定分团"):
        ops.edit_organization(session, org, {"sub_delegation_id": world.subs["SZ"].id}, actor=world.secretariat)


def test_organisation_quotas_fit_in_what_the_sub_delegation_has_left(session, world):
    sub = world.subs["GZ"]
    sub.vip_quota = 10
    make_organization(session, sub, vip_quota=7, staff_quota=0)
    org = make_organization(session, sub, vip_quota=0, staff_quota=0)
    with pytest.raises(InvalidParameter, match="最多还可分配 3") as refused:
        ops.edit_organization(session, org, {"vip_quota": 4}, actor=world.admins["GZ"])
    assert refused.value.field == "vip_quota"
    ops.edit_organization(session, org, {"vip_quota": 3}, actor=world.admins["GZ"])
    assert org.vip_quota == 3


def test_pre_allocated_quota_of_unregistered_usccs_counts_too(session, world):
    sub = world.subs["GZ"]
    sub.staff_quota = 5
    ops.create_quota_allocation(session, {"sub_delegation_id": sub.id, "uscc": make_uscc(), "vip_quota": 0,
                                          "staff_quota": 4}, actor=world.admins["GZ"])
    with pytest.raises(InvalidParameter, match="最多还可分配 1"):
        ops.create_organization(session, org_values(world, staff_quota=2), actor=world.admins["GZ"])


def person_values(org, **kw):
    values = dict(organization_id=org.id, name="张三", gender="male", region_type="mainland", id_type="resident_id",
                  id_number=RESIDENT_ID, mobile="13800138001", entry_days="2025-11-05", pickup="delegation")
    values.update(kw)
    return values


def test_a_person_takes_the_organisations_scope_and_the_birth_date_of_the_id(session, world):
    org = make_organization(session, world.subs["GZ"], vip_quota=0, staff_quota=0)
    person = ops.create_person(session, person_values(org), actor=world.admins["GZ"])
    assert (person.sub_delegation_id, person.edition_id) == (world.subs["GZ"].id, org.edition_id)
    assert person.birth_date == date(1949, 12, 31)
    assert audit_entries(session, "person", person.id)[-1].params["id_number"] == "110***********002X"


def test_a_bad_id_number_is_refused_on_its_field(session, world):
    org = make_organization(session, world.subs["GZ"], vip_quota=0, staff_quota=0)
    with pytest.raises(InvalidParameter) as refused:
        ops.create_person(session, person_values(org, id_number="110105194912310021"), actor=world.admins["GZ"])
    assert refused.value.field == "id_number"


def test_a_submitted_person_changes_only_contact_entry_days_and_pickup(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, vip_quota=0, staff_quota=0)
    person = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    with pytest.raises(InvalidParameter, match="人员信息已提交"):
        ops.edit_person(session, person, {"position": "总经理"}, actor=world.admins["GZ"])
    ops.edit_person(session, person, {"entry_days": "2025-11-06", "mobile": "13700137000"}, actor=world.admins["GZ"])
    assert person.entry_days == "2025-11-06"


def test_a_reused_persons_card_data_never_changes(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, vip_quota=0, staff_quota=0)
    person = make_person(session, org, state=PersonState.PENDING_LOCK, is_reuse=True)
    for actor in (world.admins["GZ"], world.secretariat):
        with pytest.raises(InvalidParameter, match="证件复用人员的卡面信息「姓名」不能更改"):
            ops.edit_person(session, person, {"name": "另一个名字"}, actor=actor)


def test_workflow_fields_are_not_form_fields(session, world):
    org = make_organization(session, world.subs["GZ"], vip_quota=0, staff_quota=0)
    person = make_person(session, org)
    with pytest.raises(InvalidParameter, match="审核流程"):
        ops.edit_person(session, person, {"label": Label.VIP.value}, actor=world.secretariat)


def test_only_the_secretariat_changes_sub_delegation_quotas_and_never_below_use(session, world):
    sub = world.subs["GZ"]
    with pytest.raises(NotAllowed):
        delegation_ops.edit_sub_delegation(session, sub, {"vip_quota": 500}, actor=world.admins["GZ"])
    org = make_organization(session, sub, state=OrgState.APPROVED)
    make_person(session, org, state=PersonState.APPROVED, label=Label.VIP)
    with pytest.raises(InvalidParameter, match="不能低于已使用的 1"):
        delegation_ops.edit_sub_delegation(session, sub, {"vip_quota": 0}, actor=world.secretariat)
    delegation_ops.edit_sub_delegation(session, sub, {"recruitment_target": 420}, actor=world.secretariat)
    assert audit_entries(session, "sub_delegation", sub.id)[-1].params == {"recruitment_target": [100, 420]}


def test_editing_a_user_audits_it_and_a_password_reset_ends_sessions(session, world):
    user = session.get(User, world.finance.id)
    version = user.session_version
    delegation_ops.edit_user(session, user, {"display_name": "新财务"}, actor=world.secretariat,
                             password="reset-Strong-pass-1")
    assert user.session_version > version
    actions = [e.action for e in audit_entries(session, "user", user.id)]
    assert actions[-2:] == ["user.edited", "user.password_reset"]
    assert all("password" not in str(e.params) or "******" in str(e.params) for e in audit_entries(session, "user"))


def test_the_last_secretariat_cannot_demote_itself(session, world):
    me = session.get(User, world.secretariat.id)
    with pytest.raises(InvalidParameter, match="不能停用自己的账号"):
        delegation_ops.edit_user(session, me, {"active": False}, actor=me)
