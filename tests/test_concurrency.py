"""Two admins acting on the same persons at the same moment, on PostgreSQL and on SQLite.

Each thread has its own connection, session and transaction, and commits; a barrier releases them
together just before the operation, so their transactions really overlap. PostgreSQL serialises them
with row locks (SELECT ... FOR UPDATE), SQLite with its write lock taken by BEGIN IMMEDIATE (see
models/database.py). Whatever the interleaving, a co-payment is decided once, the budget holds, and
VIP quotas hold. The same races run between OS processes through the CLI (test_concurrency_processes.py)
and between web requests (test_concurrency_web.py); test_concurrency_recheck.py shows the engine's
second line of defence when the lock is taken away.
"""
from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import bulk_persons, make_organization, make_user, make_world
from models import AuditEntry, CopayDecision, Label, OrgState, Person, PersonState, Role, SubDelegation, User
from models.registration import operations as ops

ROUNDS = 5


def race(engine, *jobs):
    """Run each job(session) in its own thread and session, released together by a barrier; commit each."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def worker(i, job):
        try:
            # Connect before the barrier, begin after it: the BEGIN (IMMEDIATE on SQLite) is part of the race.
            with engine.connect() as connection:
                barrier.wait(timeout=30)
                with Session(bind=connection) as session:
                    results[i] = job(session)
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (lock wait or deadlock)"
    if errors:
        raise errors[0]
    return results


def as_user(user_id, verb, ids, **params):
    def job(session):
        return verb(session, ids, actor=session.get(User, user_id), **params)
    return job


def setup(session, *, budget="1000000", vip_quota=100, org_vip_quota=100, n=40):
    world = make_world(session, codes=("GZ", "SZ"), copay_budget=Decimal(budget), vip_quota=vip_quota)
    gz = world.subs["GZ"]
    org = make_organization(session, gz, state=OrgState.APPROVED, vip_quota=org_vip_quota)
    other = make_organization(session, gz, state=OrgState.APPROVED, vip_quota=org_vip_quota)
    ids = bulk_persons(session, org, n // 2, state=PersonState.PENDING_CONFIRMATION)
    ids += bulk_persons(session, other, n - n // 2, state=PersonState.PENDING_CONFIRMATION)
    second_admin = make_user(session, Role.SUB_DELEGATION_ADMIN, gz)
    session.commit()
    return gz.id, sorted(ids), world.admins["GZ"].id, second_admin.id, world.secretariat.id


def copay_facts(session, sub_id):
    entries = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.copay_confirmed")))
    confirmed = set(session.scalars(select(Person.id).where(Person.copay == CopayDecision.CONFIRMED.value)))
    used = session.scalar(select(func.coalesce(func.sum(Person.copay_amount), 0))
                          .where(Person.sub_delegation_id == sub_id, Person.copay == CopayDecision.CONFIRMED.value))
    budget = session.scalar(select(SubDelegation.copay_budget).where(SubDelegation.id == sub_id))
    return entries, confirmed, Decimal(str(used)), Decimal(str(budget))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_for_overlapping_persons_decides_each_once(engine, session, round_):
    sub_id, ids, admin, second_admin, secretariat = setup(session)
    first, second = ids[:30], ids[10:]  # 20 persons in both batches

    a, b = race(engine, as_user(admin, ops.confirm_copay, first),
                as_user(secretariat if round_ % 2 else second_admin, ops.confirm_copay, second))

    session.expire_all()
    entries, confirmed, used, budget = copay_facts(session, sub_id)
    assert confirmed == set(ids)
    assert entries == Counter({pid: 1 for pid in ids}), "a co-payment was decided twice"
    assert set(a.done).isdisjoint(b.done) and set(a.done) | set(b.done) == set(ids)
    for result in (a, b):  # the loser of each overlapping person is told why
        assert all("不能确认代付" in why or "不可更改" in why for why in result.skipped.values())
    assert used == Decimal("200.00") * len(ids) <= budget


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_race_never_exceeds_the_budget(engine, session, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, budget="3000.00")  # 15 of 40 fees
    first, second = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])  # overlapping / disjoint

    a, b = race(engine, as_user(admin, ops.confirm_copay, first),
                as_user(second_admin, ops.confirm_copay, second))

    session.expire_all()
    entries, confirmed, used, budget = copay_facts(session, sub_id)
    assert used <= budget == Decimal("3000.00")
    assert len(confirmed) == 15 and used == budget  # the budget is used up, never overdrawn
    assert entries == Counter({pid: 1 for pid in confirmed})
    assert set(a.done) | set(b.done) == confirmed and set(a.done).isdisjoint(b.done)
    refused = {**a.skipped, **b.skipped}
    assert any("统付额度不足" in why for why in refused.values())
    undecided = set(session.scalars(select(Person.id).where(Person.copay == CopayDecision.UNDECIDED.value)))
    assert undecided == set(ids) - confirmed


def vip_facts(session, sub_id):
    holding = select(Person.organization_id, func.count()).where(
        Person.sub_delegation_id == sub_id, Person.label == Label.VIP.value,
        Person.state.not_in([PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value])
    ).group_by(Person.organization_id)
    return dict(session.execute(holding).all())


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_set_label_vip_race_never_exceeds_the_quota(engine, session, round_):
    sub_id, ids, admin, second_admin, secretariat = setup(session, vip_quota=7)
    first, second = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])

    a, b = race(engine, as_user(admin, ops.set_label, first, label="vip"),
                as_user(secretariat if round_ % 2 else second_admin, ops.set_label, second, label="vip"))

    session.expire_all()
    per_org = vip_facts(session, sub_id)
    assert sum(per_org.values()) == 7  # the quota is used up, never exceeded
    vips = set(session.scalars(select(Person.id).where(Person.label == Label.VIP.value)))
    labelled = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.label_set")))
    assert labelled == Counter({pid: 1 for pid in vips}), "a person labelled once has one audit entry"
    assert vips == set(a.done) | set(b.done) and set(a.done).isdisjoint(b.done)
    assert any("VIP额度已用完" in why for why in {**a.skipped, **b.skipped}.values())


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_set_label_vip_race_never_exceeds_the_organisation_quota(engine, session, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, vip_quota=100, org_vip_quota=3)
    first, second = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])

    race(engine, as_user(admin, ops.set_label, first, label="vip"),
         as_user(second_admin, ops.set_label, second, label="vip"))

    session.expire_all()
    assert sorted(vip_facts(session, sub_id).values()) == [3, 3]  # two organisations, 3 VIPs each


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_racing_assign_delegation_keeps_the_receiving_budget(engine, session, round_):
    """GZ confirms co-payment for an organisation's persons while the secretariat moves it to SZ."""
    world = make_world(session, codes=("GZ", "SZ"))
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    sz.copay_budget = Decimal("1000.00")  # 5 fees; the organisation brings 10 persons
    org = make_organization(session, gz, state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 10, state=PersonState.PENDING_CONFIRMATION)
    session.commit()
    org_id, admin_id, secretariat_id = org.id, world.admins["GZ"].id, world.secretariat.id

    confirmed, assigned = race(engine, as_user(admin_id, ops.confirm_copay, ids),
                               as_user(secretariat_id, ops.assign_delegation, [org_id],
                                       sub_delegation_id=sz.id))

    session.expire_all()
    _, _, used, budget = copay_facts(session, sz.id)
    assert used <= budget
    moved = assigned.done == [org_id]
    assert {p.sub_delegation_id for p in session.scalars(select(Person))} == {sz.id if moved else gz.id}
    assert not (moved and confirmed.done == ids)  # 10 co-paid persons do not fit in SZ's budget


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_set_label_racing_assign_delegation_neither_deadlocks_nor_overfills(engine, session, round_):
    """GZ labels an organisation's persons VIP while the secretariat moves it to SZ, whose VIP quota is 4."""
    world = make_world(session, codes=("GZ", "SZ"))
    gz, sz = world.subs["GZ"], world.subs["SZ"]
    sz.vip_quota = 4
    org = make_organization(session, gz, state=OrgState.APPROVED)
    ids = bulk_persons(session, org, 10, state=PersonState.PENDING_CONFIRMATION)
    session.commit()
    org_id, admin_id, secretariat_id = org.id, world.admins["GZ"].id, world.secretariat.id

    labelled, assigned = race(engine, as_user(admin_id, ops.set_label, ids, label="vip"),
                              as_user(secretariat_id, ops.assign_delegation, [org_id],
                                      sub_delegation_id=sz.id))

    session.expire_all()
    moved = assigned.done == [org_id]
    assert not (moved and labelled.done == ids)  # 10 VIPs do not fit in SZ's quota of 4
    vips = sum(vip_facts(session, sz.id).values())
    assert vips <= 4
