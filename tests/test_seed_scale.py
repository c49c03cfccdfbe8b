"""Issue 11: the demo at scale. A template seed_demo run cloned set-based keeps the template's spread of states and
its kind of audit history, with unique, valid USCCs and ID numbers, on both databases."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from stdnum.cn import ric, uscc

from admin_app.seed.scale import ScaleError, seed_at_scale
from factories import fast_password_hashing, make_organization
from tallies_check import assert_tallies_match
from models import AuditEntry, IdType, Order, Organization, Person, SubDelegation, files

TEMPLATE = 12


@pytest.fixture(autouse=True)
def quick(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_root", tmp_path / "uploads")
    with fast_password_hashing():
        yield


def counts(session, column, where=None):
    query = select(column, func.count()).group_by(column)
    return dict(session.execute(query.where(where) if where is not None else query).all())


def test_three_copies_of_the_template_keep_its_states_history_and_unique_valid_numbers(session):
    summary = seed_at_scale(session, orgs=TEMPLATE * 3, persons=TEMPLATE * 15, seed=5, template_orgs=TEMPLATE)
    assert summary["copies"] == 2
    orgs = session.scalar(select(func.count()).select_from(Organization))
    persons = session.scalar(select(func.count()).select_from(Person))
    assert orgs == 3 * TEMPLATE and persons % 3 == 0
    span = session.scalar(select(func.max(Person.id))) // 3
    template, copy = Person.id <= span, Person.id > 2 * span
    assert counts(session, Person.state, template) == counts(session, Person.state, copy)
    assert counts(session, Person.label, template) == counts(session, Person.label, copy)

    numbers = session.execute(select(Person.id_type, Person.id_number, Person.birth_date)).all()
    assert len({(t, n) for t, n, _ in numbers}) == len(numbers)
    for id_type, number, birth in numbers:
        if IdType(id_type) is IdType.RESIDENT_ID:
            assert ric.is_valid(number) and ric.get_birth_date(number) == birth
    codes = [c for c in session.scalars(select(Organization.uscc)) if c]
    assert len(set(codes)) == len(codes) and all(uscc.is_valid(c) for c in codes)
    assert len(set(session.scalars(select(Order.number)))) == session.scalar(select(func.count()).select_from(Order))

    history = Counter(session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "person")))
    template_history = Counter(session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "person", AuditEntry.object_id <= span)))
    assert history == Counter({action: 3 * n for action, n in template_history.items()})
    copied = session.execute(select(AuditEntry.object_id, AuditEntry.sub_delegation_id).where(
        AuditEntry.object_type == "person", AuditEntry.object_id > 2 * span)).all()
    assert copied and all(session.get(Person, i).sub_delegation_id == sub for i, sub in copied[:50])

    assert_tallies_match(session)
    new = make_organization(session, session.scalars(select(SubDelegation)).first())  # ids carry on after copies
    assert new.id > 3 * TEMPLATE


def test_scale_seeding_refuses_a_database_that_holds_organisations(session, world):
    make_organization(session, world.subs["GZ"])
    with pytest.raises(ScaleError):
        seed_at_scale(session, orgs=24, persons=100, template_orgs=TEMPLATE)


def test_the_grown_targets_quotas_and_budgets_are_the_secretariats_audited_edits(session):
    seed_at_scale(session, orgs=TEMPLATE * 2, persons=TEMPLATE * 10, seed=2, template_orgs=TEMPLATE)
    subs = session.scalars(select(SubDelegation)).all()
    edits = session.scalars(select(AuditEntry).where(AuditEntry.action == "sub_delegation.edited")).all()
    assert {e.object_id for e in edits} == {s.id for s in subs if s.recruitment_target or s.vip_quota}
