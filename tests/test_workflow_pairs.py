"""Every (state, transition variant) pair of both registration workflows, then the domain rules one by one.

A pair is fired on one row in that state by a user of each allowed role, with valid parameters and
quotas/budgets large enough, so that only the source state decides: a pair whose state is a source
moves the row (one audit entry), any other pair is skipped with a readable reason and changes nothing.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from factories import audit_entries, bulk_persons, make_edition, make_organization, make_person, outbox, snapshot
from models import (AuditEntry, CopayDecision, Label, Order, OrgCategory, Organization, OrgState, Payment,
                    Person, PersonState, QuotaAllocation, Role, visible)
from models.errors import InvalidParameter, NotAllowed
from models.finance import operations as fin
from models.registration import operations as ops
from models.engine import run
from models.workflows import WORKFLOWS
from models.engine import NOT_VISIBLE

ORG = WORKFLOWS["organization"]
PERSON = WORKFLOWS["person"]
# The pairs below are built for organisations and persons; the finance workflows (orders, payments,
# invoices, refunds) hang on rows of their own and are tested verb by verb and by random sequences in
# test_finance.py and test_finance_properties.py.
REGISTRATION = (ORG, PERSON)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ALL_OR_NOTHING_REASON = "同批次中有不能执行的记录，本批次全部未执行"


# --------------------------------------------------------------------------------------------------
# Helpers: rows in a given state, valid parameters, reading rows back
# --------------------------------------------------------------------------------------------------

def valid_params(transition, world) -> dict:
    """Parameters that pass validation: a text, a label both variants accept, the other sub-delegation."""
    params = {}
    for p in transition.params:
        if p.kind == "choice":
            params[p.name] = Label.STAFF.value
        elif p.kind == "sub_delegation":
            params[p.name] = world.subs["SZ"].id
        else:
            params[p.name] = f"测试{p.label[0]}"
    return params


def make_row(session, world, workflow, transition, state, sub_code="GZ"):
    """A row of `workflow.model` in `state`, set up so that every guard of `transition` passes."""
    sub = world.subs[sub_code]
    if workflow is ORG:
        org = make_organization(session, sub, state=state, deleted=transition.name == "restore")
        return org.id
    org = make_organization(session, sub, state=OrgState.APPROVED)
    badge = "E8-0001" if state in (PersonState.BADGE_PRODUCED, PersonState.BADGE_ISSUED) else None
    return make_person(session, org, state=state, badge_number=badge).id


def row(session, model, row_id) -> dict:
    return snapshot(session, model, [row_id])[row_id]


def audit_count(session) -> int:
    """Audit entries of the workflows (the world's users were created with an entry each)."""
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.object_type != "user"))


def state_of(session, model, row_id) -> str:
    value = row(session, model, row_id)["state"]
    return getattr(value, "value", value)


def pairs():
    for workflow in REGISTRATION:
        for transition in workflow.transitions:
            for role in sorted(transition.roles, key=lambda r: r.value):
                for state in workflow.states:
                    yield pytest.param(workflow, transition, role, state,
                                       id=f"{workflow.object_type}.{transition.name}-as-{role.value}-{state.value}")


def variants_with(predicate):
    for workflow in REGISTRATION:
        for transition in workflow.transitions:
            if predicate(transition):
                roles = "+".join(sorted(r.value for r in transition.roles))
                yield pytest.param(workflow, transition, id=f"{workflow.object_type}.{transition.name}[{roles}]")


# --------------------------------------------------------------------------------------------------
# Every (state, transition variant) pair
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("workflow, transition, role, state", list(pairs()))
def test_pair(session, world, workflow, transition, role, state):
    model = workflow.model
    actor = world.user(role)
    row_id = make_row(session, world, workflow, transition, state)
    before = row(session, model, row_id)
    audits_before = audit_count(session)

    result = run(session, workflow, transition.name, [row_id], actor=actor, params=valid_params(transition, world))

    assert result.transition is transition
    after = row(session, model, row_id)
    if state in transition.sources:
        assert result.done == [row_id] and result.skipped == {}
        new_state = workflow.states(getattr(after["state"], "value", after["state"]))
        assert new_state in transition.outcomes()
        if transition.target is None:
            assert new_state == state
        elif isinstance(transition.target, workflow.states):
            assert new_state == transition.target
        assert after["updated_at"] != before["updated_at"]
        entries = audit_entries(session, workflow.object_type, row_id)
        assert [(e.action, e.from_state, e.to_state, e.actor_id) for e in entries] == [
            (transition.audit_action, state.value, new_state.value, actor.id)]
        assert entries[0].sub_delegation_id == before["sub_delegation_id"]
    else:
        assert result.done == []
        reason = result.skipped[row_id]
        assert CHINESE.search(reason)
        assert state.zh in reason and transition.label_zh in reason, reason
        assert after == before
        assert audit_count(session) == audits_before


@pytest.mark.parametrize("workflow, transition", list(variants_with(lambda t: Role.SUB_DELEGATION_ADMIN in t.roles)))
def test_row_of_another_sub_delegation_is_not_visible(session, world, workflow, transition):
    """A forged id: the GZ admin names a SZ row that is in a source state; it is skipped and unchanged."""
    state = sorted(transition.sources, key=lambda s: s.value)[0]
    foreign = make_row(session, world, workflow, transition, state, sub_code="SZ")
    before = row(session, workflow.model, foreign)
    params = valid_params(transition, world)
    if "sub_delegation_id" in params:
        params["sub_delegation_id"] = world.subs["GZ"].id

    result = run(session, workflow, transition.name, [foreign], actor=world.admins["GZ"], params=params)

    assert result.done == [] and result.skipped == {foreign: NOT_VISIBLE}
    assert row(session, workflow.model, foreign) == before
    assert audit_count(session) == 0


def test_ids_that_match_no_row_are_reported_not_visible(session, world):
    """Forged ids from a form: unknown, negative, beyond the integer range; none is an error."""
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    forged = [0, -5, 2**31, 2**40, org.id + 1000]
    result = ops.approve_organizations(session, [org.id, *forged], actor=world.secretariat)
    assert result.done == [org.id]
    assert result.skipped == {i: NOT_VISIBLE for i in forged}
    only_forged = ops.approve_organizations(session, forged, actor=world.secretariat)
    assert only_forged.done == [] and set(only_forged.skipped) == set(forged)


def names_and_forbidden_roles():
    for workflow in REGISTRATION:
        for name in workflow.names():
            allowed = set().union(*(t.roles for t in workflow.variants(name)))
            for role in sorted(set(Role) - allowed, key=lambda r: r.value):
                yield pytest.param(workflow, name, role, id=f"{workflow.object_type}.{name}-as-{role.value}")


@pytest.mark.parametrize("workflow, name, role", list(names_and_forbidden_roles()))
def test_role_not_allowed(session, world, workflow, name, role):
    transition = workflow.variants(name)[0]
    state = next(iter(transition.sources))
    row_id = make_row(session, world, workflow, transition, state)
    before = row(session, workflow.model, row_id)

    with pytest.raises(NotAllowed) as raised:
        run(session, workflow, name, [row_id], actor=world.user(role), params=valid_params(transition, world))

    assert role.zh in str(raised.value)
    assert row(session, workflow.model, row_id) == before
    assert audit_count(session) == 0


def test_inactive_user_is_not_allowed(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    world.secretariat.active = False
    session.flush()
    with pytest.raises(NotAllowed):
        ops.approve_organizations(session, [org.id], actor=world.secretariat)
    assert state_of(session, Organization, org.id) == "submitted"


@pytest.mark.parametrize("workflow, transition", list(variants_with(lambda t: any(p.required for p in t.params))))
def test_missing_required_parameter(session, world, workflow, transition):
    state = sorted(transition.sources, key=lambda s: s.value)[0]
    row_id = make_row(session, world, workflow, transition, state)
    before = row(session, workflow.model, row_id)
    actor = world.user(sorted(transition.roles, key=lambda r: r.value)[0])
    for missing in [p for p in transition.params if p.required]:
        for empty in ({}, {missing.name: ""}, {missing.name: "   "}):
            params = {**valid_params(transition, world), **empty}
            if not empty:
                params.pop(missing.name)
            with pytest.raises(InvalidParameter) as raised:
                run(session, workflow, transition.name, [row_id], actor=actor, params=params)
            assert raised.value.field == missing.name
            assert missing.label[0] in str(raised.value)
    assert row(session, workflow.model, row_id) == before
    assert audit_count(session) == 0


def test_invalid_and_unknown_parameters(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    person = make_person(session, org, state=PersonState.SAVED)
    admin = world.admins["GZ"]
    with pytest.raises(InvalidParameter, match="取值无效"):
        ops.set_label(session, [person.id], actor=admin, label="chairman")
    with pytest.raises(InvalidParameter, match="取值无效"):
        ops.upgrade_label(session, [person.id], actor=admin, label=Label.PROFESSIONAL.value)
    with pytest.raises(InvalidParameter, match="取值无效"):
        ops.assign_delegation(session, [org.id], actor=admin, sub_delegation_id="深圳")
    with pytest.raises(InvalidParameter, match="不能超过"):
        ops.return_organizations_for_edit(session, [org.id], actor=world.secretariat, reason="长" * 501)
    with pytest.raises(InvalidParameter, match="未知参数"):
        run(session, WORKFLOWS["person"], "submit", [person.id], actor=admin, params={"note": "x"})
    assert audit_count(session) == 0


def test_unknown_transition_name(session, world):
    with pytest.raises(InvalidParameter, match="未知操作"):
        run(session, ORG, "approve_everything", [1], actor=world.secretariat)


def test_empty_id_list_does_nothing(session, world):
    result = ops.cancel_persons(session, [], actor=world.secretariat)
    assert result.done == [] and result.skipped == {} and result.complete


# --------------------------------------------------------------------------------------------------
# Guards: each refusal is a readable reason and changes nothing
# --------------------------------------------------------------------------------------------------

GUARD_CASES = [
    # (id, workflow, name, role, row setup, params, reason)
    ("approve-deleted-org", ORG, "approve", Role.SECRETARIAT, dict(state=OrgState.SUBMITTED, deleted=True), {},
     "单位已删除"),
    ("restore-org-not-deleted", ORG, "restore", Role.SECRETARIAT, dict(state=OrgState.APPROVED), {},
     "单位未被删除"),
    ("assign-to-own-sub", ORG, "assign_delegation", Role.SECRETARIAT, dict(state=OrgState.APPROVED),
     {"sub_delegation_id": "GZ"}, "已属于目标交易分团"),
    ("assign-to-missing-sub", ORG, "assign_delegation", Role.SECRETARIAT, dict(state=OrgState.APPROVED),
     {"sub_delegation_id": 999999}, "目标交易分团不存在"),
    ("submit-person-of-rejected-org", PERSON, "submit", Role.SUB_DELEGATION_ADMIN,
     dict(org_state=OrgState.REJECTED, state=PersonState.SAVED), {}, "所属单位审核不通过"),
    ("lock-submit-person-of-rejected-org", PERSON, "lock_submit", Role.SECRETARIAT,
     dict(org_state=OrgState.REJECTED, state=PersonState.PENDING_LOCK), {}, "所属单位审核不通过"),
    ("relabel-reuse-person-down", PERSON, "set_label", Role.SUB_DELEGATION_ADMIN,
     dict(state=PersonState.PENDING_LOCK, is_reuse=True, label=Label.STAFF), {"label": "professional"},
     "证件复用人员的卡面信息"),
    ("relabel-reused-vip", PERSON, "set_label", Role.SUB_DELEGATION_ADMIN,
     dict(state=PersonState.PENDING_LOCK, is_reuse=True, label=Label.VIP), {"label": "staff"},
     "原VIP人员选择证件复用的，无法修改标签"),
    ("relabel-to-own-label", PERSON, "set_label", Role.SECRETARIAT,
     dict(state=PersonState.PENDING_CONFIRMATION, label=Label.VIP), {"label": "vip"}, "已是VIP"),
    ("label-person-of-unapproved-org", PERSON, "set_label", Role.SUB_DELEGATION_ADMIN,
     dict(org_state=OrgState.SUBMITTED, state=PersonState.PENDING_CONFIRMATION), {"label": "staff"},
     "所属单位尚未审核通过"),
    ("confirm-copay-twice", PERSON, "confirm_copay", Role.SUB_DELEGATION_ADMIN,
     dict(state=PersonState.PENDING_LOCK, copay=CopayDecision.CONFIRMED, copay_amount=Decimal("200")), {},
     "统付已确认或已取消"),
    ("cancel-copay-after-cancel", PERSON, "cancel_copay", Role.SECRETARIAT,
     dict(state=PersonState.PENDING_CONFIRMATION, copay=CopayDecision.CANCELLED), {}, "统付已确认或已取消"),
    ("upgrade-vip-to-staff", PERSON, "upgrade_label", Role.SECRETARIAT,
     dict(state=PersonState.APPROVED, label=Label.VIP), {"label": "staff"}, "只能升级"),
    ("upgrade-staff-to-staff", PERSON, "upgrade_label", Role.SECRETARIAT,
     dict(state=PersonState.APPROVED, label=Label.STAFF), {"label": "staff"}, "只能升级"),
    ("upgrade-reused-vip", PERSON, "upgrade_label", Role.SUB_DELEGATION_ADMIN,
     dict(state=PersonState.PENDING_REVIEW, is_reuse=True, label=Label.VIP), {"label": "vip"},
     "原VIP人员选择证件复用的，无法修改标签"),
]


@pytest.mark.parametrize("workflow, name, role, setup, params, reason",
                         [pytest.param(*case[1:], id=case[0]) for case in GUARD_CASES])
def test_guard_refusal(session, world, workflow, name, role, setup, params, reason):
    setup = dict(setup)
    params = {k: (world.subs[v].id if v in world.subs else v) for k, v in params.items()}
    if workflow is ORG:
        row_id = make_organization(session, world.subs["GZ"], **setup).id
    else:
        org = make_organization(session, world.subs["GZ"], state=setup.pop("org_state", OrgState.APPROVED))
        row_id = make_person(session, org, **setup).id
    before = row(session, workflow.model, row_id)

    result = run(session, workflow, name, [row_id], actor=world.user(role), params=params)

    assert result.done == [] and reason in result.skipped[row_id]
    assert row(session, workflow.model, row_id) == before
    assert audit_count(session) == 0 and outbox(session) == []


# --------------------------------------------------------------------------------------------------
# Organisations
# --------------------------------------------------------------------------------------------------

def test_approve_first_by_sub_delegation_then_by_secretariat(session, world):
    gz = world.subs["GZ"]
    org = make_organization(session, gz, state=OrgState.SUBMITTED)
    other = make_organization(session, gz, state=OrgState.SUBMITTED)

    ops.approve_organizations(session, [org.id], actor=world.admins["GZ"])
    assert state_of(session, Organization, org.id) == "first_approved"
    assert audit_entries(session, "organization", org.id)[-1].action == "organization.first_approved"

    again = ops.approve_organizations(session, [org.id], actor=world.admins["GZ"])
    assert again.skipped == {org.id: "当前状态为「初审通过」，不能审核通过（初审）"}

    ops.approve_organizations(session, [org.id, other.id], actor=world.secretariat)
    assert state_of(session, Organization, org.id) == "approved"
    assert state_of(session, Organization, other.id) == "approved"  # the secretariat may skip the first review
    assert sorted(m.recipient for m in outbox(session, "organization_approved")) == sorted(
        [session.get(Organization, org.id).contact_email, session.get(Organization, other.id).contact_email])


@pytest.mark.parametrize("category, recognised, expected", [
    (OrgCategory.ENTERPRISE, True, OrgState.APPROVED),
    (OrgCategory.PUBLIC_INSTITUTION, True, OrgState.APPROVED),
    (OrgCategory.ENTERPRISE, False, OrgState.SUBMITTED),
    (OrgCategory.SOCIAL_ORGANISATION, True, OrgState.SUBMITTED),
    (OrgCategory.GOVERNMENT_AGENCY, True, OrgState.SUBMITTED),
])
def test_auto_approval_on_submit(session, world, category, recognised, expected):
    draft = make_organization(session, world.subs["GZ"], category=category, uscc_recognised=recognised)
    returned = make_organization(session, world.subs["GZ"], category=category, uscc_recognised=recognised,
                                 state=OrgState.RETURNED, return_reason="补充材料")

    ops.submit_organizations(session, [draft.id], actor=world.admins["GZ"])
    ops.resubmit_organizations(session, [returned.id], actor=world.admins["GZ"])

    for org_id, action in ((draft.id, "organization.submitted"), (returned.id, "organization.resubmitted")):
        org = session.get(Organization, org_id)
        assert org.state is expected and org.submitted_at is not None and org.return_reason is None
        [entry] = audit_entries(session, "organization", org_id)
        assert (entry.action, entry.to_state) == (action, expected.value)


def test_return_for_edit_stores_the_reason_and_tells_the_registrant(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.FIRST_APPROVED)

    ops.return_organizations_for_edit(session, [org.id], actor=world.secretariat, reason="  营业执照不清晰 ")

    org = session.get(Organization, org.id)
    assert org.state is OrgState.RETURNED and org.return_reason == "营业执照不清晰"
    [entry] = audit_entries(session, "organization", org.id)
    assert entry.params == {"reason": "营业执照不清晰"}
    [message] = outbox(session, "organization_returned")
    assert (message.recipient, message.object_id, message.params) == (org.contact_email, org.id,
                                                                      {"reason": "营业执照不清晰"})


def test_reject_is_all_or_nothing(session, world):
    gz = world.subs["GZ"]
    submitted = make_organization(session, gz, state=OrgState.SUBMITTED)
    returned = make_organization(session, gz, state=OrgState.RETURNED)
    draft = make_organization(session, gz, state=OrgState.DRAFT)
    before = snapshot(session, Organization)

    result = ops.reject_organizations(session, [submitted.id, returned.id, draft.id], actor=world.admins["GZ"],
                                  reason="非采购商")

    assert result.done == [] and not result.complete
    assert result.skipped == {submitted.id: ALL_OR_NOTHING_REASON, returned.id: ALL_OR_NOTHING_REASON,
                              draft.id: "当前状态为「待提交」，不能审核不通过"}
    assert snapshot(session, Organization) == before
    assert audit_count(session) == 0 and outbox(session) == []

    result = ops.reject_organizations(session, [submitted.id, returned.id], actor=world.admins["GZ"], reason="非采购商")
    assert result.done == [submitted.id, returned.id]
    for org_id in result.done:
        org = session.get(Organization, org_id)
        assert org.state is OrgState.REJECTED and org.reject_reason == "非采购商"
    assert len(outbox(session, "organization_rejected")) == 2


def test_reject_is_all_or_nothing_also_for_rows_out_of_scope(session, world):
    mine = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    theirs = make_organization(session, world.subs["SZ"], state=OrgState.SUBMITTED)
    result = ops.reject_organizations(session, [mine.id, theirs.id], actor=world.admins["GZ"], reason="不符合")
    assert result.skipped == {mine.id: ALL_OR_NOTHING_REASON, theirs.id: NOT_VISIBLE}
    assert state_of(session, Organization, mine.id) == "submitted"


def count_visible(session, user, model, ids) -> int:
    return session.scalar(select(func.count()).select_from(model).where(visible(user, model), model.id.in_(ids)))


def make_order(session, org, number):
    order = Order(number=number, edition_id=org.edition_id, organization_id=org.id,
                  sub_delegation_id=org.sub_delegation_id, total_amount=Decimal("400"))
    session.add(order)
    session.flush()
    return order


def test_assign_delegation_moves_persons_and_orders_out_of_sight(session, world):
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    org = make_organization(session, gz, state=OrgState.APPROVED)
    person_ids = [make_person(session, org, state=PersonState.PENDING_REVIEW, label=label).id
                  for label in (Label.VIP, Label.STAFF, Label.PROFESSIONAL)]
    order = make_order(session, org, "V20251001000001")
    gz_admin, sz_admin = world.admins["GZ"], world.admins["SZ"]
    assert count_visible(session, gz_admin, Person, person_ids) == 3
    assert count_visible(session, sz_admin, Person, person_ids) == 0

    result = ops.assign_delegation(session, [org.id], actor=gz_admin, sub_delegation_id=str(sz.id))
    session.commit()

    assert result.done == [org.id]
    assert session.get(Organization, org.id).sub_delegation_id == sz.id
    assert {p.sub_delegation_id for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))} == {sz.id}
    assert session.get(Order, order.id).sub_delegation_id == sz.id
    assert count_visible(session, gz_admin, Organization, [org.id]) == 0
    assert count_visible(session, gz_admin, Person, person_ids) == 0
    assert count_visible(session, gz_admin, Order, [order.id]) == 0
    assert count_visible(session, sz_admin, Person, person_ids) == 3
    assert count_visible(session, sz_admin, Order, [order.id]) == 1
    [entry] = audit_entries(session, "organization", org.id)
    assert entry.action == "organization.delegation_assigned"
    assert entry.sub_delegation_id == gz.id and entry.params == {"sub_delegation_id": sz.id}

    again = ops.assign_delegation(session, [org.id], actor=gz_admin, sub_delegation_id=gz.id)
    assert again.skipped == {org.id: NOT_VISIBLE}  # it is no longer the GZ admin's to give back


def test_assign_delegation_refused_when_target_quotas_cannot_hold_the_persons(session, world):
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    sz.vip_quota, sz.staff_quota = 2, 5
    receiving = make_organization(session, sz, state=OrgState.APPROVED)
    make_person(session, receiving, state=PersonState.APPROVED, label=Label.VIP)
    big = make_organization(session, gz, state=OrgState.APPROVED)      # 2 VIPs: 1 + 2 > 2
    small = make_organization(session, gz, state=OrgState.APPROVED)    # 1 VIP fits
    leaving = make_organization(session, gz, state=OrgState.APPROVED)  # a cancelled VIP holds no slot
    for org, n in ((big, 2), (small, 1)):
        for _ in range(n):
            make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.VIP)
    make_person(session, leaving, state=PersonState.CANCELLED, label=Label.VIP)
    before = snapshot(session, Person)

    result = ops.assign_delegation(session, [big.id, small.id, leaving.id], actor=world.secretariat,
                                             sub_delegation_id=sz.id)

    assert result.done == [small.id, leaving.id]
    assert set(result.skipped) == {big.id}
    assert "目标分团VIP额度不足" in result.skipped[big.id] and "本单位 2 人" in result.skipped[big.id]
    assert session.get(Organization, big.id).sub_delegation_id == gz.id
    after = snapshot(session, Person)
    assert all(after[i]["sub_delegation_id"] == gz.id for i, p in before.items() if p["organization_id"] == big.id)
    assert audit_entries(session, "organization", big.id) == []


def test_assign_delegation_refused_when_target_budget_cannot_hold_the_co_payments(session, world):
    """Confirmed co-payments move with their persons, so the receiving budget must hold them."""
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    sz.copay_budget = Decimal("500.00")
    receiving = make_organization(session, sz, state=OrgState.APPROVED)
    make_person(session, receiving, state=PersonState.PENDING_REVIEW, copay=CopayDecision.CONFIRMED,
                copay_amount=Decimal("200"))
    copaid = make_organization(session, gz, state=OrgState.APPROVED)   # 400 more: 600 > 500
    for _ in range(2):
        make_person(session, copaid, state=PersonState.PENDING_REVIEW, copay=CopayDecision.CONFIRMED,
                    copay_amount=Decimal("200"))
    paying = make_organization(session, gz, state=OrgState.APPROVED)   # no co-payment: moves
    make_person(session, paying, state=PersonState.PENDING_PAYMENT, copay=CopayDecision.CANCELLED)

    result = ops.assign_delegation(session, [copaid.id, paying.id], actor=world.secretariat,
                                             sub_delegation_id=sz.id)

    assert result.done == [paying.id]
    assert result.skipped == {copaid.id: "目标分团统付额度不足（已用 200.00 / 500.00 元，本单位已统付 400.00 元）"}
    used = session.scalar(select(func.sum(Person.copay_amount)).where(Person.sub_delegation_id == sz.id))
    assert used == Decimal("200.00")


def test_assign_delegation_moves_this_editions_quota_pre_allocation_only(session, world):
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    previous = make_edition(session, is_current=False, name="第七届")
    org = make_organization(session, gz, edition=world.edition, state=OrgState.APPROVED)
    this_year = QuotaAllocation(edition_id=world.edition.id, sub_delegation_id=gz.id, uscc=org.uscc, vip_quota=2)
    last_year = QuotaAllocation(edition_id=previous.id, sub_delegation_id=gz.id, uscc=org.uscc, vip_quota=1)
    session.add_all([this_year, last_year])
    session.flush()

    ops.assign_delegation(session, [org.id], actor=world.secretariat, sub_delegation_id=sz.id)

    session.expire_all()
    assert (this_year.sub_delegation_id, last_year.sub_delegation_id) == (sz.id, gz.id)


def test_delete_hides_from_sub_delegation_and_only_the_secretariat_restores(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    person_ids = bulk_persons(session, org, 2, state=PersonState.PENDING_REVIEW)
    gz_admin = world.admins["GZ"]

    ops.delete_organizations(session, [org.id], actor=gz_admin)

    assert session.get(Organization, org.id).deleted_at is not None
    assert state_of(session, Organization, org.id) == "approved"
    assert count_visible(session, gz_admin, Organization, [org.id]) == 0
    assert count_visible(session, gz_admin, Person, person_ids) == 0
    assert count_visible(session, world.secretariat, Person, person_ids) == 2
    assert ops.cancel_persons(session, person_ids, actor=gz_admin).skipped == {i: NOT_VISIBLE for i in person_ids}
    with pytest.raises(NotAllowed):
        ops.restore_organizations(session, [org.id], actor=gz_admin)
    assert ops.delete_organizations(session, [org.id], actor=world.secretariat).skipped == {org.id: "单位已删除"}

    ops.restore_organizations(session, [org.id], actor=world.secretariat)

    assert session.get(Organization, org.id).deleted_at is None
    assert count_visible(session, gz_admin, Organization, [org.id]) == 1
    assert count_visible(session, gz_admin, Person, person_ids) == 2
    assert [e.action for e in audit_entries(session, "organization", org.id)] == [
        "organization.deleted", "organization.restored"]


# --------------------------------------------------------------------------------------------------
# Persons: labels and quotas
# --------------------------------------------------------------------------------------------------

def test_set_label_within_sub_delegation_quota(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota = 3
    org = make_organization(session, gz, state=OrgState.APPROVED)
    make_person(session, org, state=PersonState.APPROVED, label=Label.VIP)       # holds a slot
    make_person(session, org, state=PersonState.CANCELLED, label=Label.VIP)      # does not
    make_person(session, org, state=PersonState.REVIEW_FAILED, label=Label.VIP)  # does not
    ids = bulk_persons(session, org, 4, state=PersonState.PENDING_CONFIRMATION)

    result = ops.set_label(session, ids, actor=world.admins["GZ"], label="vip")

    assert result.done == ids[:2]
    assert result.skipped == {ids[2]: "交易分团VIP额度已用完（3/3）", ids[3]: "交易分团VIP额度已用完（3/3）"}
    labels = {i: p["label"] for i, p in snapshot(session, Person, ids).items()}
    assert labels == {ids[0]: Label.VIP, ids[1]: Label.VIP, ids[2]: Label.PROFESSIONAL, ids[3]: Label.PROFESSIONAL}
    assert [e.object_id for e in audit_entries(session, action="person.label_set")] == ids[:2]


def test_set_label_within_organisation_quota(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, staff_quota=1)
    other = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, staff_quota=1)
    ids = bulk_persons(session, org, 2, state=PersonState.SAVED)
    other_id = make_person(session, other, state=PersonState.SAVED).id

    result = ops.set_label(session, ids + [other_id], actor=world.secretariat, label="staff")

    assert result.done == [ids[0], other_id]
    assert result.skipped == {ids[1]: "单位工作人员额度已用完（1/1）"}
    # Back to professional frees the slot; the label is set again within the quota.
    ops.set_label(session, [ids[0]], actor=world.secretariat, label="professional")
    assert ops.set_label(session, [ids[1]], actor=world.secretariat, label="staff").done == [ids[1]]


def test_set_label_keeps_reuse_persons_card(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    reuse = make_person(session, org, state=PersonState.PENDING_LOCK, label=Label.STAFF, is_reuse=True)
    result = ops.set_label(session, [reuse.id], actor=world.secretariat, label="staff")
    # The same label is no change of the card, and no change at all: skipped, not audited.
    assert result.done == [] and result.skipped == {reuse.id: "已是工作人员"}
    down = ops.set_label(session, [reuse.id], actor=world.secretariat, label="professional")
    assert down.done == [] and "证件复用人员的卡面信息" in down.skipped[reuse.id]
    assert session.get(Person, reuse.id).label is Label.STAFF


# --------------------------------------------------------------------------------------------------
# Persons: co-payment
# --------------------------------------------------------------------------------------------------

def test_confirm_copay_consumes_budget_and_refuses_past_it(session, world):
    gz = world.subs["GZ"]
    gz.copay_budget = Decimal("500.00")  # fee 200, reuse at 50 % = 100
    org = make_organization(session, gz, state=OrgState.APPROVED)
    first = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    reuse = make_person(session, org, state=PersonState.PENDING_LOCK, is_reuse=True)
    vip = make_person(session, org, state=PersonState.PENDING_CONFIRMATION, label=Label.VIP)
    second = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    third = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    ids = [first.id, reuse.id, vip.id, second.id, third.id]

    result = ops.confirm_copay(session, ids, actor=world.admins["GZ"])

    assert result.done == [first.id, reuse.id, vip.id, second.id]
    assert result.skipped == {third.id: "统付额度不足（已用 500.00 / 500.00 元，本人证件费 200.00 元）"}
    after = snapshot(session, Person, ids)
    assert {i: (p["copay"], p["copay_amount"], getattr(p["state"], "value", p["state"])) for i, p in after.items()} == {
        first.id: (CopayDecision.CONFIRMED, Decimal("200.00"), "pending_review"),
        reuse.id: (CopayDecision.CONFIRMED, Decimal("100.00"), "pending_lock"),
        vip.id: (CopayDecision.CONFIRMED, Decimal("0.00"), "pending_review"),
        second.id: (CopayDecision.CONFIRMED, Decimal("200.00"), "pending_review"),
        third.id: (CopayDecision.UNDECIDED, Decimal("0.00"), "pending_confirmation"),
    }
    assert sum(p["copay_amount"] for p in after.values()) <= gz.copay_budget

    # Decided once: neither a second confirmation nor a cancellation changes anything.
    before = snapshot(session, Person, ids)
    assert ops.confirm_copay(session, [first.id], actor=world.secretariat).skipped == {
        first.id: "当前状态为「待审核」，不能确认代付"}
    assert ops.cancel_copay(session, [reuse.id], actor=world.secretariat).skipped == {
        reuse.id: "统付已确认或已取消，选择后不可更改"}
    assert ops.confirm_copay(session, [reuse.id], actor=world.secretariat).skipped == {
        reuse.id: "统付已确认或已取消，选择后不可更改"}
    assert snapshot(session, Person, ids) == before
    assert len(audit_entries(session, action="person.copay_confirmed")) == 4


def test_cancel_copay_professional_pays_free_labels_go_to_review(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    professional = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    vip = make_person(session, org, state=PersonState.PENDING_CONFIRMATION, label=Label.VIP)
    staff = make_person(session, org, state=PersonState.PENDING_CONFIRMATION, label=Label.STAFF)
    locked = make_person(session, org, state=PersonState.PENDING_LOCK, is_reuse=True)

    result = ops.cancel_copay(session, [professional.id, vip.id, staff.id, locked.id], actor=world.admins["GZ"])

    assert len(result.done) == 4
    states = {i: getattr(p["state"], "value", p["state"]) for i, p in snapshot(session, Person).items()}
    assert states == {professional.id: "pending_payment", vip.id: "pending_review", staff.id: "pending_review",
                      locked.id: "pending_lock"}
    # The person by SMS, and the organisation's contact by SMS and e-mail (seeds: 单位会收到人员付款短信和邮件通知).
    assert [(m.template, m.channel.value, m.recipient, m.object_id) for m in outbox(session)] == [
        ("person_please_pay", "sms", professional.mobile, professional.id),
        ("person_please_pay", "sms", org.contact_mobile, professional.id),
        ("person_please_pay", "email", org.contact_email, professional.id)]
    assert all(p["copay"] is CopayDecision.CANCELLED for p in snapshot(session, Person).values())


def test_lock_submit(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    free = make_person(session, org, state=PersonState.PENDING_LOCK, label=Label.STAFF, is_reuse=True)
    copaid = make_person(session, org, state=PersonState.PENDING_LOCK, is_reuse=True, copay=CopayDecision.CONFIRMED,
                         copay_amount=Decimal("100"))
    paying = make_person(session, org, state=PersonState.PENDING_LOCK, is_reuse=True)
    saved = make_person(session, org, state=PersonState.SAVED)

    result = ops.lock_submit(session, [free.id, copaid.id, paying.id, saved.id], actor=world.admins["GZ"])

    assert result.done == [free.id, copaid.id, paying.id]
    assert result.skipped == {saved.id: "当前状态为「已保存」，不能锁定提交"}
    assert [state_of(session, Person, i) for i in result.done] == ["pending_review", "pending_review",
                                                                   "pending_payment"]
    assert [(m.template, m.object_id) for m in outbox(session)] == [("person_please_pay", paying.id)] * 3


def test_a_person_leaves_pending_payment_only_when_their_order_is_paid(session, world):
    # No person transition marks a person paid without money: only the order's payment moves them on.
    assert not [t.name for t in PERSON.transitions
                if PersonState.PENDING_PAYMENT in t.sources and PersonState.PENDING_REVIEW in t.outcomes()
                and t.name != "upgrade_label"]  # an upgrade to a free label needs no money
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    paying, waiting = (make_person(session, org, state=PersonState.PENDING_PAYMENT).id for _ in range(2))
    voucher = "voucher/" + "cd" * 16 + ".png"

    [order_id] = fin.create_orders(session, [paying], actor=world.admins["GZ"]).order_ids
    number = session.get(Order, order_id).number
    assert state_of(session, Person, paying) == "pending_payment"
    submitted = fin.submit_voucher(session, order_id, actor=world.admins["GZ"], voucher=voucher, amount="200",
                                   payer_kind="organization", payer_name=org.name)
    assert submitted.done == [order_id] and state_of(session, Person, paying) == "pending_payment"
    [voucher_payment] = session.scalars(select(Payment.id).where(Payment.order_id == order_id))
    fin.reject_vouchers(session, [voucher_payment], actor=world.finance, reason="凭证不清晰")
    assert state_of(session, Person, paying) == "pending_payment"
    refused = fin.record_gateway_payment(session, actor=world.finance, order_number=number, method="qr_wechat",
                                         amount="150", reference="WX-1", paid_at=datetime.now(timezone.utc))
    assert not refused.ok and state_of(session, Person, paying) == "pending_payment"

    assert fin.record_gateway_payment(session, actor=world.finance, order_number=number, method="qr_wechat",
                                      amount="200", reference="WX-2", paid_at=datetime.now(timezone.utc)).ok
    assert state_of(session, Person, paying) == "pending_review"
    assert state_of(session, Person, waiting) == "pending_payment"  # not on the paid order
    [entry] = audit_entries(session, "person", action="person.paid")
    assert (entry.object_id, entry.from_state, entry.to_state) == (paying, "pending_payment", "pending_review")


# --------------------------------------------------------------------------------------------------
# Persons: label upgrade, review, badges
# --------------------------------------------------------------------------------------------------

def test_upgrade_label_never_down_and_never_for_a_reused_vip(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    professional = make_person(session, org, state=PersonState.PENDING_REVIEW)
    staff = make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.STAFF)
    vip = make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.VIP)
    reuse = make_person(session, org, state=PersonState.PENDING_REVIEW, is_reuse=True)
    reused_vip = make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.VIP, is_reuse=True)
    admin = world.admins["GZ"]
    everyone = [professional.id, staff.id, vip.id, reuse.id, reused_vip.id]

    to_staff = ops.upgrade_label(session, everyone, actor=admin, label="staff")
    assert to_staff.done == [professional.id, reuse.id]
    assert set(to_staff.skipped) == {staff.id, vip.id, reused_vip.id}
    # A reused professional visitor, now staff, may go on to VIP (seed 002); a reused VIP never changes.
    to_vip = ops.upgrade_label(session, everyone, actor=admin, label="vip")
    assert to_vip.done == [professional.id, staff.id, reuse.id]
    assert to_vip.skipped == {vip.id: "只能升级：专业观众→工作人员/VIP，工作人员→VIP",
                              reused_vip.id: "原VIP人员选择证件复用的，无法修改标签"}
    labels = {i: p["label"] for i, p in snapshot(session, Person).items()}
    assert labels == {i: Label.VIP for i in everyone}


@pytest.mark.parametrize("state, expected", [
    (PersonState.BADGE_PRODUCED, "approved"),
    (PersonState.BADGE_ISSUED, "approved"),
    (PersonState.PENDING_PAYMENT, "pending_review"),
    (PersonState.APPROVED, "approved"),
    (PersonState.PENDING_CONFIRMATION, "pending_confirmation"),
])
def test_upgrade_label_invalidates_the_badge(session, world, state, expected):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    badge = "E8-42" if state in (PersonState.BADGE_PRODUCED, PersonState.BADGE_ISSUED) else None
    person = make_person(session, org, state=state, badge_number=badge)

    ops.upgrade_label(session, [person.id], actor=world.secretariat, label="staff")

    person = session.get(Person, person.id)
    assert (person.state.value, person.label, person.badge_number) == (expected, Label.STAFF, None)
    assert person.invalid_badge_number == badge
    [entry] = audit_entries(session, "person", person.id)
    assert (entry.action, entry.from_state, entry.to_state) == ("person.label_upgraded", state.value, expected)


def test_upgrade_label_checks_quotas(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota = 1
    org = make_organization(session, gz, state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 2, state=PersonState.APPROVED, label=Label.STAFF)
    result = ops.upgrade_label(session, ids, actor=world.secretariat, label="vip")
    assert result.done == ids[:1] and result.skipped == {ids[1]: "交易分团VIP额度已用完（1/1）"}


def test_badges_and_background_review(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    passing, failing = bulk_persons(session, org, 2, state=PersonState.PENDING_REVIEW)
    sec = world.secretariat

    ops.fail_review(session, [failing], actor=sec, reason="公安背审未通过")
    ops.pass_review(session, [passing], actor=sec)
    ops.produce_badges(session, [passing], actor=sec)
    produced = session.get(Person, passing)
    assert produced.state is PersonState.BADGE_PRODUCED
    assert produced.badge_number == f"E{produced.edition_id}-{produced.id}"
    ops.issue_badges(session, [passing], actor=sec)

    assert state_of(session, Person, passing) == "badge_issued"
    failed = session.get(Person, failing)
    assert (failed.state, failed.review_note) == (PersonState.REVIEW_FAILED, "公安背审未通过")
    messages = outbox(session, "person_review_failed")
    assert [(m.channel.value, m.recipient) for m in messages] == [
        ("sms", failed.mobile), ("sms", failed.organization.contact_mobile),
        ("email", failed.organization.contact_email)]
    assert ops.cancel_persons(session, [passing], actor=sec).skipped == {passing: "当前状态为「证件已发放」，不能注销"}


def test_cancel_with_and_without_reason(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    with_reason, without = bulk_persons(session, org, 2, state=PersonState.APPROVED, review_note="原意见")
    ops.cancel_persons(session, [with_reason], actor=world.admins["GZ"], reason="本人申请注销")
    ops.cancel_persons(session, [without], actor=world.admins["GZ"])
    rows = snapshot(session, Person)
    assert rows[with_reason]["review_note"] == "本人申请注销"
    assert rows[without]["review_note"] == "原意见"
    assert {getattr(r["state"], "value", r["state"]) for r in rows.values()} == {"cancelled"}


# --------------------------------------------------------------------------------------------------
# Target "all matching": a SELECT of ids instead of a list
# --------------------------------------------------------------------------------------------------

def test_target_all_matching_select(session, world):
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    mine = make_organization(session, gz, state=OrgState.APPROVED)
    theirs = make_organization(session, sz, state=OrgState.APPROVED)
    waiting = bulk_persons(session, mine, 5, state=PersonState.PENDING_CONFIRMATION)
    saved = bulk_persons(session, mine, 2, state=PersonState.SAVED)
    foreign = bulk_persons(session, theirs, 3, state=PersonState.PENDING_CONFIRMATION)

    all_matching = select(Person.id).where(Person.state == PersonState.PENDING_CONFIRMATION.value)
    result = ops.confirm_copay(session, all_matching, actor=world.admins["GZ"])

    # The GZ admin's "all matching" is limited to GZ's rows, without a report about the others.
    assert result.done == waiting and result.skipped == {}
    states = {i: getattr(p["state"], "value", p["state"]) for i, p in snapshot(session, Person).items()}
    assert {states[i] for i in waiting} == {"pending_review"}
    assert {states[i] for i in saved} == {"saved"}
    assert {states[i] for i in foreign} == {"pending_confirmation"}

    everything = ops.submit_persons(session, select(Person.id), actor=world.secretariat)
    assert everything.done == saved
    assert set(everything.skipped) == set(waiting + foreign)
