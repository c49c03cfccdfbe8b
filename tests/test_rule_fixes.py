"""Rule fixes found by testing against the seeds (issue 7, item 5); each test failed before its fix.

1. Persons of an organisation that is not yet approved are saved and submitted, but not labelled,
   co-payment-decided, lock-submitted or put on an order.
2. Badge reuse (证件复用, seed 002): a reused professional visitor may become staff or VIP, reused staff VIP;
   a reused original VIP's label never changes (「原VIP人员选择证件复用的，交易团（分团）无法修改标签」).
3. Lock-submitting a reused VIP or staff badge takes a quota slot, like labelling a new one.
4. Upgrading a co-paid professional visitor to a free label returns the co-payment to the budget, audited.
5. A transition that would change nothing is skipped (「已是VIP」, code "unchanged") and audits nothing.
"""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select

from factories import audit_entries, bulk_persons, make_organization, make_person, make_user, make_world, snapshot
from models import AuditEntry, CopayDecision, Label, OrgState, Person, PersonState, Role, User
from models.engine import run
from models.finance.operations import create_orders
from models.registration import operations as ops
from models.registration.quotas import allocate_label, sub_delegation_usage
from models.workflows import WORKFLOWS
from test_concurrency import race

P = PersonState
NOT_APPROVED = "所属单位尚未审核通过"
REJECTED = "所属单位审核不通过"
REUSED_VIP = "原VIP人员选择证件复用的，无法修改标签"
REUSED_CARD = "证件复用人员的卡面信息（含人员标签）不能更改"


def states(session, ids) -> dict[int, str]:
    return {i: getattr(p["state"], "value", p["state"]) for i, p in snapshot(session, Person, ids).items()}


def person_audits(session, action=None) -> list[AuditEntry]:
    return audit_entries(session, "person", action=action)


# --------------------------------------------------------------------------------------------------
# 1. Persons of an organisation that is not approved yet
# --------------------------------------------------------------------------------------------------

def waiting_persons(session, org) -> dict[str, int]:
    """One person of `org` waiting for each decision."""
    return {"saved": make_person(session, org, state=P.SAVED).id,
            "confirming": make_person(session, org, state=P.PENDING_CONFIRMATION).id,
            "cancelling": make_person(session, org, state=P.PENDING_CONFIRMATION).id,
            "locked": make_person(session, org, state=P.PENDING_LOCK, is_reuse=True).id,
            "paying": make_person(session, org, state=P.PENDING_PAYMENT, copay=CopayDecision.CANCELLED).id}


def decide_everything(session, world, ids: dict[str, int]) -> dict:
    """Fire every decision on the persons waiting for it: {transition: Result}."""
    admin = world.admins["GZ"]
    return {
        "set_label": ops.set_label(session, [ids["saved"], ids["confirming"]], actor=admin, label="staff"),
        "upgrade_label": ops.upgrade_label(session, [ids["confirming"]], actor=admin, label="vip"),
        "confirm_copay": ops.confirm_copay(session, [ids["confirming"]], actor=admin),
        "cancel_copay": ops.cancel_copay(session, [ids["cancelling"], ids["locked"]], actor=admin),
        "lock_submit": ops.lock_submit(session, [ids["locked"]], actor=admin),
        # Payment starts with an order (a person leaves pending_payment only when it is paid).
        "create_orders": create_orders(session, [ids["paying"]], actor=admin),
    }


@pytest.mark.parametrize("org_state", [OrgState.DRAFT, OrgState.SUBMITTED, OrgState.FIRST_APPROVED,
                                       OrgState.RETURNED], ids=lambda s: s.value)
def test_persons_of_an_unapproved_organisation_are_submitted_but_not_decided(session, world, org_state):
    org = make_organization(session, world.subs["GZ"], state=org_state)
    ids = waiting_persons(session, org)
    before = snapshot(session, Person)

    results = decide_everything(session, world, ids)

    for name, result in results.items():
        assert result.done == [], name
        assert set(result.skipped.values()) == {NOT_APPROVED}, name
    assert snapshot(session, Person) == before
    assert person_audits(session) == []
    # Saving and submitting stay open: the organisation's review and its persons' registration overlap.
    assert ops.submit_persons(session, [ids["saved"]], actor=world.admins["GZ"]).done == [ids["saved"]]


def test_persons_of_a_rejected_organisation_are_told_so(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.REJECTED)
    results = decide_everything(session, world, waiting_persons(session, org))
    for name, result in results.items():
        assert result.done == [] and set(result.skipped.values()) == {REJECTED}, name
    assert person_audits(session) == []


def test_once_the_organisation_is_approved_its_persons_are_decided(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.FIRST_APPROVED)
    person = make_person(session, org, state=P.PENDING_CONFIRMATION)
    assert ops.set_label(session, [person.id], actor=world.admins["GZ"], label="staff").skipped == {
        person.id: NOT_APPROVED}

    ops.approve_organizations(session, [org.id], actor=world.secretariat)

    assert ops.set_label(session, [person.id], actor=world.admins["GZ"], label="staff").done == [person.id]
    assert ops.confirm_copay(session, [person.id], actor=world.admins["GZ"]).done == [person.id]
    assert states(session, [person.id]) == {person.id: "pending_review"}


# --------------------------------------------------------------------------------------------------
# 2. Badge reuse: upgrades allowed, a reused VIP's card never changes
# --------------------------------------------------------------------------------------------------

def test_reused_professional_and_staff_may_be_upgraded_to_vip(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    professional = make_person(session, org, state=P.PENDING_REVIEW, is_reuse=True)
    staff = make_person(session, org, state=P.APPROVED, label=Label.STAFF, is_reuse=True)
    vip = make_person(session, org, state=P.PENDING_REVIEW, label=Label.VIP, is_reuse=True)

    result = ops.upgrade_label(session, [professional.id, staff.id, vip.id], actor=world.admins["GZ"], label="vip")

    assert result.done == [professional.id, staff.id]
    assert result.skipped == {vip.id: REUSED_VIP}
    labels = {i: p["label"] for i, p in snapshot(session, Person).items()}
    assert labels == {professional.id: Label.VIP, staff.id: Label.VIP, vip.id: Label.VIP}
    assert sorted(e.object_id for e in person_audits(session, "person.label_upgraded")) == [professional.id, staff.id]


def test_a_reused_persons_label_changes_before_lock_submit_only_upwards(session, world):
    """Seed 002: 由交易团或分团对应修改人员标签后锁定提交 — professional → staff/VIP, staff → VIP, never down."""
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    professional = make_person(session, org, state=P.PENDING_LOCK, is_reuse=True)
    staff = make_person(session, org, state=P.PENDING_LOCK, label=Label.STAFF, is_reuse=True)
    vip = make_person(session, org, state=P.PENDING_LOCK, label=Label.VIP, is_reuse=True)
    admin = world.admins["GZ"]

    to_staff = ops.set_label(session, [professional.id, staff.id, vip.id], actor=admin, label="staff")
    assert to_staff.done == [professional.id]
    assert to_staff.skipped == {staff.id: "已是工作人员", vip.id: REUSED_VIP}
    down = ops.set_label(session, [professional.id, staff.id], actor=admin, label="professional")
    assert down.done == [] and set(down.skipped) == {professional.id, staff.id}
    assert all(why.startswith(REUSED_CARD) for why in down.skipped.values())
    to_vip = ops.set_label(session, [professional.id, staff.id], actor=admin, label="vip")
    assert to_vip.done == [professional.id, staff.id]

    assert ops.lock_submit(session, [professional.id, staff.id, vip.id], actor=admin).done == [
        professional.id, staff.id, vip.id]
    assert set(states(session, [professional.id, staff.id, vip.id]).values()) == {"pending_review"}


# --------------------------------------------------------------------------------------------------
# 3. Lock-submit takes a VIP/staff quota slot
# --------------------------------------------------------------------------------------------------

def test_lock_submitting_reused_vip_and_staff_takes_quota_slots(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota, gz.staff_quota = 2, 1
    org = make_organization(session, gz, state=OrgState.APPROVED)
    make_person(session, org, state=P.APPROVED, label=Label.VIP)  # holds one of the two VIP slots
    first_vip, second_vip = bulk_persons(session, org, 2, state=P.PENDING_LOCK, label=Label.VIP, is_reuse=True)
    first_staff, second_staff = bulk_persons(session, org, 2, state=P.PENDING_LOCK, label=Label.STAFF,
                                             is_reuse=True)
    professional = make_person(session, org, state=P.PENDING_LOCK, is_reuse=True)
    ids = [first_vip, second_vip, first_staff, second_staff, professional.id]

    result = ops.lock_submit(session, ids, actor=world.admins["GZ"])

    assert result.done == [first_vip, first_staff, professional.id]
    assert result.skipped == {second_vip: "交易分团VIP额度已用完（2/2）",
                              second_staff: "交易分团工作人员额度已用完（1/1）"}
    assert states(session, ids) == {first_vip: "pending_review", second_vip: "pending_lock",
                                    first_staff: "pending_review", second_staff: "pending_lock",
                                    professional.id: "pending_payment"}
    assert sorted(e.object_id for e in person_audits(session)) == sorted(result.done)


def test_a_reused_vip_waiting_for_lock_submit_does_not_block_another(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota = 1
    org = make_organization(session, gz, state=OrgState.APPROVED)
    waiting, chosen = bulk_persons(session, org, 2, state=P.PENDING_LOCK, label=Label.VIP, is_reuse=True)

    assert ops.lock_submit(session, [chosen], actor=world.admins["GZ"]).done == [chosen]
    assert ops.lock_submit(session, [waiting], actor=world.admins["GZ"]).skipped == {
        waiting: "交易分团VIP额度已用完（1/1）"}


def test_lock_submitting_a_reused_vip_checks_the_organisation_quota(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, vip_quota=1)
    make_person(session, org, state=P.PENDING_REVIEW, label=Label.VIP)
    reused = make_person(session, org, state=P.PENDING_LOCK, label=Label.VIP, is_reuse=True)

    result = ops.lock_submit(session, [reused.id], actor=world.secretariat)

    assert result.skipped == {reused.id: "单位VIP额度已用完（1/1）"}
    assert states(session, [reused.id]) == {reused.id: "pending_lock"}


@pytest.mark.parametrize("round_", range(3))
def test_two_admins_lock_submitting_reused_vips_at_once_stay_within_the_quota(engine, session, round_):
    world = make_world(session, codes=("GZ",), vip_quota=1)
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 2, state=P.PENDING_LOCK, label=Label.VIP, is_reuse=True)
    second_admin = make_user(session, Role.SUB_DELEGATION_ADMIN, world.subs["GZ"])
    session.commit()
    admins = (world.admins["GZ"].id, second_admin.id)

    def lock_submit(admin_id, person_id):
        return lambda s: ops.lock_submit(s, [person_id], actor=s.get(User, admin_id))

    a, b = race(engine, lock_submit(admins[0], ids[round_ % 2]), lock_submit(admins[1], ids[1 - round_ % 2]))

    session.expire_all()
    assert len(a.done) + len(b.done) == 1
    assert list({**a.skipped, **b.skipped}.values()) == ["交易分团VIP额度已用完（1/1）"]
    assert sorted(states(session, ids).values()) == ["pending_lock", "pending_review"]


# --------------------------------------------------------------------------------------------------
# 4. An upgrade to a free label returns the co-payment
# --------------------------------------------------------------------------------------------------

def test_upgrading_a_co_paid_professional_returns_the_co_payment(session, world):
    gz = world.subs["GZ"]
    gz.copay_budget = Decimal("300.00")
    org = make_organization(session, gz, state=OrgState.APPROVED)
    new = make_person(session, org, state=P.PENDING_REVIEW, copay=CopayDecision.CONFIRMED,
                      copay_amount=Decimal("200"))
    reused = make_person(session, org, state=P.APPROVED, is_reuse=True, copay=CopayDecision.CONFIRMED,
                         copay_amount=Decimal("100"))
    staff = make_person(session, org, state=P.PENDING_REVIEW, label=Label.STAFF, copay=CopayDecision.CONFIRMED)
    waiting = make_person(session, org, state=P.PENDING_CONFIRMATION)
    assert ops.confirm_copay(session, [waiting.id], actor=world.admins["GZ"]).done == []  # budget used up

    result = ops.upgrade_label(session, [new.id, reused.id, staff.id], actor=world.admins["GZ"], label="vip")

    assert result.done == [new.id, reused.id, staff.id]
    after = snapshot(session, Person, result.done)
    assert {i: (p["label"], p["copay"], p["copay_amount"]) for i, p in after.items()} == {
        i: (Label.VIP, CopayDecision.CONFIRMED, Decimal("0.00")) for i in result.done}
    assert sub_delegation_usage(session, [gz.id])[gz.id]["copay"] == (Decimal(0), Decimal("300.00"))
    returned = person_audits(session, "person.copay_returned")
    assert sorted((e.object_id, e.params, e.actor_id, e.sub_delegation_id, e.to_state) for e in returned) == [
        (new.id, {"label": "vip", "copay_returned": "200.00"}, world.admins["GZ"].id, gz.id, "pending_review"),
        (reused.id, {"label": "vip", "copay_returned": "100.00"}, world.admins["GZ"].id, gz.id, "approved")]
    assert len(person_audits(session, "person.label_upgraded")) == 3
    # The returned budget is there for the next co-payment.
    assert ops.confirm_copay(session, [waiting.id], actor=world.admins["GZ"]).done == [waiting.id]


def test_labelling_a_co_paid_reused_professional_staff_returns_the_co_payment(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    reused = make_person(session, org, state=P.PENDING_LOCK, is_reuse=True, copay=CopayDecision.CONFIRMED,
                         copay_amount=Decimal("100"))

    assert ops.set_label(session, [reused.id], actor=world.admins["GZ"], label="staff").done == [reused.id]

    person = session.get(Person, reused.id)
    assert (person.label, person.copay, person.copay_amount) == (Label.STAFF, CopayDecision.CONFIRMED, Decimal(0))
    [entry] = person_audits(session, "person.copay_returned")
    assert entry.params == {"label": "staff", "copay_returned": "100.00"}


# --------------------------------------------------------------------------------------------------
# 5. Nothing to change: skipped, no audit entry
# --------------------------------------------------------------------------------------------------

def test_set_label_to_the_persons_own_label_is_skipped_unaudited(session, world):
    gz = world.subs["GZ"]
    gz.vip_quota = 1
    org = make_organization(session, gz, state=OrgState.APPROVED)
    vip = make_person(session, org, state=P.PENDING_CONFIRMATION, label=Label.VIP)
    staff = make_person(session, org, state=P.SAVED, label=Label.STAFF)
    professional = make_person(session, org, state=P.PENDING_CONFIRMATION)
    admin = world.admins["GZ"]

    again = {label: ops.set_label(session, [person.id], actor=admin, label=label.value)
             for label, person in ((Label.VIP, vip), (Label.STAFF, staff), (Label.PROFESSIONAL, professional))}

    assert {label: r.skipped for label, r in again.items()} == {
        Label.VIP: {vip.id: "已是VIP"}, Label.STAFF: {staff.id: "已是工作人员"},
        Label.PROFESSIONAL: {professional.id: "已是专业观众"}}
    assert {r.skipped[i].code for r in again.values() for i in r.skipped} == {"unchanged"}
    assert person_audits(session) == []


def test_allocate_label_grants_no_slot_to_a_person_who_has_the_label(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    vip = make_person(session, org, state=P.PENDING_CONFIRMATION, label=Label.VIP)
    allocation = allocate_label(session, [vip.id], params={"label": "vip"}, actor=world.secretariat)
    assert allocation.granted == [] and allocation.refused == {vip.id: "已是VIP"}


@pytest.mark.parametrize("round_", range(3))
def test_two_admins_labelling_overlapping_persons_vip_audit_each_change_once(engine, session, round_):
    world = make_world(session, codes=("GZ",))
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 20, state=P.PENDING_CONFIRMATION)
    second_admin = make_user(session, Role.SUB_DELEGATION_ADMIN, world.subs["GZ"])
    session.commit()

    def label_vip(admin_id, batch):
        return lambda s: ops.set_label(s, batch, actor=s.get(User, admin_id), label="vip")

    a, b = race(engine, label_vip(world.admins["GZ"].id, ids[:15]), label_vip(second_admin.id, ids[5:]))

    session.expire_all()
    entries = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.label_set")))
    assert entries == Counter({i: 1 for i in ids}), "a person labelled once has one audit entry"
    assert set(a.done).isdisjoint(b.done) and set(a.done) | set(b.done) == set(ids)
    assert set({**a.skipped, **b.skipped}.values()) == {"已是VIP"}


@pytest.mark.parametrize("name, setup, params, reason", [
    ("assign_delegation", {}, {"sub_delegation_id": "GZ"}, "已属于目标交易分团"),
    ("delete", {"deleted": True}, {}, "单位已删除"),
    ("restore", {}, {}, "单位未被删除"),
])
def test_organisation_transitions_that_change_nothing_say_so(session, world, name, setup, params, reason):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, **setup)
    params = {k: world.subs[v].id for k, v in params.items()}

    result = run(session, WORKFLOWS["organization"], name, [org.id], actor=world.secretariat, params=params)

    assert result.skipped == {org.id: reason} and result.skipped[org.id].code == "unchanged"
    assert audit_entries(session, "organization") == []
