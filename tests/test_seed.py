"""Demo data: the delegation tree, and seed_demo's coverage, validity, quotas and determinism."""
from decimal import Decimal

from sqlalchemy import delete, func, select
from stdnum.cn import ric, uscc

from admin_app.seed import DELEGATION_TREE, ensure_edition, seed_delegation_tree, seed_demo
from models import (CopayDecision, Delegation, IdType, Label, OrgAddress, Organization, OrgState, Person, PersonState,
                    SubDelegation, SubDelegationKind)
from models.registration.quotas import fee_expression, organization_usage, sub_delegation_usage
from models.validation import validate_id_document, validate_mobile

BADGED = {PersonState.BADGE_PRODUCED, PersonState.BADGE_ISSUED}


def test_tree_has_the_26_member_units_of_the_recruitment_table(session):
    subs = seed_delegation_tree(session)
    assert seed_delegation_tree(session) == subs  # idempotent
    assert len(subs) == 26 and session.scalar(select(func.count()).select_from(SubDelegation)) == 26
    assert sum(s.recruitment_target for s in subs.values()) == 3500
    assert subs["guangzhou"].name == "广州市" and subs["guangzhou"].recruitment_target == 400
    assert subs["sheng-gongxinting"].name == "省工业和信息化厅" and subs["sheng-gongxinting"].seq == 1
    assert [s.seq for s in subs.values()] == list(range(1, 27))
    assert sum(s.kind is SubDelegationKind.DEPARTMENT for s in subs.values()) == 6
    assert all(s.vip_quota > 0 and s.staff_quota > 0 and s.copay_budget > 0 and s.contact_name and s.mobile
               for s in subs.values())
    assert session.scalar(select(Delegation.name).where(Delegation.code == "guangdong")) == "广东交易团"
    assert [m.code for m in DELEGATION_TREE] == list(subs)


def test_edition_is_created_once(session):
    edition = ensure_edition(session)
    assert ensure_edition(session) is edition
    assert edition.is_current and edition.fee_per_label == Decimal("200") and edition.reuse_fee_percent == 50


def test_seed_demo_covers_every_state_within_the_rules(session):
    summary = seed_demo(session, orgs=200, persons=1000, seed=3)
    assert summary["organizations"] == 200 and summary["persons"] == 1000
    assert set(summary["org_states"]) == {s.value for s in OrgState}
    assert set(summary["person_states"]) == {s.value for s in PersonState}
    assert set(summary["labels"]) == {label.value for label in Label}

    orgs = session.scalars(select(Organization)).all()
    persons = session.scalars(select(Person)).all()
    assert len(orgs) == 200 and len(persons) == 1000
    assert {o.sub_delegation_id for o in orgs} == {s.id for s in session.scalars(select(SubDelegation))}
    assert {o.state for o in orgs} == set(OrgState) and {p.state for p in persons} == set(PersonState)
    assert 0 < sum(o.deleted_at is not None for o in orgs) < 20

    for org in orgs:
        assert org.uscc is None if org.category.is_overseas else uscc.is_valid(org.uscc)
        assert (org.return_reason is not None) == (org.state is OrgState.RETURNED)
        assert (org.reject_reason is not None) == (org.state is OrgState.REJECTED)
        assert (org.submitted_at is None) == (org.state is OrgState.DRAFT)
    usccs = [o.uscc for o in orgs if o.uscc]
    assert len(usccs) == len(set(usccs))

    addresses = session.scalars(select(OrgAddress)).all()
    assert addresses and {a.position for a in addresses} <= {1, 2, 3, 4, 5}
    address_org = {a.id: a.organization_id for a in addresses}

    org_state = {o.id: o.state for o in orgs}
    fees = dict(session.execute(select(Person.id, fee_expression())).all())
    for p in persons:
        assert validate_mobile(p.mobile) == p.mobile
        document = validate_id_document(p.id_type, p.id_number)
        if p.id_type is IdType.RESIDENT_ID:
            assert ric.is_valid(p.id_number) and not document.warnings and document.birth_date == p.birth_date
        if org_state[p.organization_id] is not OrgState.APPROVED:
            assert p.state not in BADGED | {PersonState.APPROVED, PersonState.REVIEW_FAILED}
        assert (p.badge_number is not None) == (p.state in BADGED)
        assert p.address_id is None or address_org[p.address_id] == p.organization_id
        if p.state is PersonState.PENDING_LOCK:
            assert p.is_reuse
        if p.is_reuse:
            assert p.prior_badge_number
        if p.state is PersonState.PENDING_PAYMENT:
            assert p.label is Label.PROFESSIONAL and p.copay is not CopayDecision.CONFIRMED
        if p.copay is CopayDecision.CONFIRMED:
            assert p.copay_amount == Decimal(str(fees[p.id])) > 0
        else:
            assert p.copay_amount == 0
    keys = [(p.id_type, p.id_number) for p in persons]
    assert len(keys) == len(set(keys))
    assert any(p.is_reuse for p in persons) and any(p.copay is CopayDecision.CONFIRMED for p in persons)
    assert {p.id_type for p in persons} == set(IdType)
    assert_quotas_hold(session)


def test_seed_demo_again_respects_existing_rows(session):
    seed_demo(session, orgs=60, persons=300, seed=1)
    seed_demo(session, orgs=60, persons=300, seed=1)
    session.commit()  # the unique constraints hold
    assert session.scalar(select(func.count()).select_from(Person)) == 600
    assert_quotas_hold(session)


def test_seed_demo_is_deterministic(session):
    first = seed_demo(session, orgs=80, persons=400, seed=7)
    rows = fingerprint(session)
    for model in (Person, OrgAddress, Organization):
        session.execute(delete(model))
    assert seed_demo(session, orgs=80, persons=400, seed=7) == first
    assert fingerprint(session) == rows
    for model in (Person, OrgAddress, Organization):
        session.execute(delete(model))
    seed_demo(session, orgs=80, persons=400, seed=8)
    assert fingerprint(session) != rows


def fingerprint(session):
    orgs = session.execute(select(Organization.name, Organization.uscc, Organization.state, Organization.vip_quota,
                                  Organization.sub_delegation_id, Organization.created_at).order_by(Organization.id))
    persons = session.execute(select(Person.name, Person.id_number, Person.state, Person.label, Person.copay,
                                     Person.copay_amount, Person.mobile).order_by(Person.id))
    return orgs.all(), persons.all()


def assert_quotas_hold(session):
    sub_ids = session.scalars(select(SubDelegation.id)).all()
    for sub_id, usage in sub_delegation_usage(session, sub_ids).items():
        for kind in ("vip", "staff", "copay"):
            used, allocated = usage[kind]
            assert used <= allocated, (sub_id, kind, used, allocated)
    org_ids = session.scalars(select(Organization.id)).all()
    for org_id, usage in organization_usage(session, org_ids).items():
        for kind in ("vip", "staff"):
            used, allocated = usage[kind]
            assert used <= allocated, (org_id, kind, used, allocated)
