"""Random sequences of transitions, fired by random users on random rows, never break the rules.

A small dataset is committed once per database; each hypothesis example runs in one connection-level
transaction that is rolled back afterwards (the engine never commits). Before the steps the example
draws how tight the quotas and budgets are (never below what is already used). After every step:

- every state is a member of its enum, and reachable from the initial states through the table;
- every change of a row (state, label, co-payment, sub-delegation, ...) has exactly one audit entry of
  the fired transition, from the old state to the new one, by the actor; audit entries only for rows done;
  a row done changed more than its timestamp (a transition that would change nothing is skipped);
- co-payment is decided at most once: undecided -> confirmed | cancelled, then never changes, except that
  the amount comes back to the budget when a co-paid professional visitor is labelled staff or VIP, or a
  co-paid person is cancelled or fails review: each return has one person.copay_returned entry;
- VIP/staff quotas (sub-delegation and organisation) and co-payment budgets are never exceeded; the
  co-payment a sub-delegation uses is the sum over its co-paid persons not cancelled or review failed;
- no row outside the actor's scope changes; a refused call (role, parameter) changes nothing.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from factories import bulk_persons, make_organization, make_user, make_world
from tallies_check import assert_tallies_match
from models import (AuditEntry, CopayDecision, InvoiceState, Label, OrderState, OrgCategory, Organization, OrgState,
                    Person, PersonState, RefundState, Role, SubDelegation, User, visible)
from models.enums import PaymentState
from models.errors import InvalidParameter, NotAllowed
from models.engine import run
from models.registration.quotas import copay_used
from models.workflows import WORKFLOWS
from models.engine import NOT_VISIBLE

ORG, PERSON = WORKFLOWS["organization"], WORKFLOWS["person"]
FEE, REUSE_FEE = Decimal("200"), Decimal("100")
# The states rows are created in: by a create, or by the finance verbs that insert rows (a gateway payment
# is recorded as it arrives).
INITIAL = {ORG: {OrgState.DRAFT}, PERSON: {PersonState.SAVED, PersonState.PENDING_LOCK},
           WORKFLOWS["order"]: {OrderState.UNPAID},
           WORKFLOWS["payment"]: {PaymentState.SUBMITTED, PaymentState.RECORDED},
           WORKFLOWS["invoice"]: {InvoiceState.REQUESTED}, WORKFLOWS["refund"]: {RefundState.REQUESTED}}
RELEASED = {PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
REASONS = ["", "请补充材料", "  非采购商  ", "背审未通过"]
MISSING_SUB = 987654
# Who acts, weighted towards the roles that may fire most transitions.
ACTORS = ["secretariat", "secretariat", "admin GZ", "admin SZ", "admin FS", "admin GZ+SZ", "finance", "viewer"]
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "40"))


def value(v):
    return getattr(v, "value", v)


def reachable(workflow) -> set[str]:
    """States reachable from the initial states through the transition table."""
    seen = {s.value for s in INITIAL[workflow]}
    changed = True
    while changed:
        changed = False
        for t in workflow.transitions:
            if seen & {s.value for s in t.sources}:
                new = {s.value for s in t.outcomes()} - seen
                if new:
                    seen |= new
                    changed = True
    return seen


REACHABLE = {workflow: reachable(workflow) for workflow in WORKFLOWS.values()}


def test_every_state_is_reachable_from_the_initial_states():
    for workflow in WORKFLOWS.values():
        assert REACHABLE[workflow] == {s.value for s in workflow.states}, workflow.object_type


# --------------------------------------------------------------------------------------------------
# The dataset: 3 sub-delegations, 10 organisations, 40 persons, users of every role
# --------------------------------------------------------------------------------------------------

PERSON_MIX = [  # (state, label, is_reuse, copay) cycled over each organisation's persons
    (PersonState.SAVED, Label.PROFESSIONAL, False, CopayDecision.UNDECIDED),
    (PersonState.PENDING_CONFIRMATION, Label.PROFESSIONAL, False, CopayDecision.UNDECIDED),
    (PersonState.PENDING_LOCK, Label.PROFESSIONAL, True, CopayDecision.UNDECIDED),
    (PersonState.PENDING_CONFIRMATION, Label.STAFF, False, CopayDecision.UNDECIDED),
    (PersonState.PENDING_PAYMENT, Label.PROFESSIONAL, False, CopayDecision.CANCELLED),
    (PersonState.PENDING_REVIEW, Label.PROFESSIONAL, False, CopayDecision.CONFIRMED),
    (PersonState.APPROVED, Label.VIP, False, CopayDecision.UNDECIDED),
    (PersonState.BADGE_PRODUCED, Label.STAFF, True, CopayDecision.UNDECIDED),
    (PersonState.PENDING_LOCK, Label.VIP, True, CopayDecision.UNDECIDED),
    (PersonState.SAVED, Label.STAFF, False, CopayDecision.UNDECIDED),
    (PersonState.REVIEW_FAILED, Label.VIP, False, CopayDecision.UNDECIDED),
    (PersonState.BADGE_ISSUED, Label.PROFESSIONAL, False, CopayDecision.CONFIRMED),
    (PersonState.CANCELLED, Label.STAFF, False, CopayDecision.UNDECIDED),
]


def build_dataset(session) -> dict:
    world = make_world(session, codes=("GZ", "SZ", "FS"))
    gz, sz, fs = (world.subs[c] for c in ("GZ", "SZ", "FS"))
    orgs = [
        make_organization(session, gz, state=OrgState.APPROVED),
        make_organization(session, gz, state=OrgState.DRAFT, category=OrgCategory.ENTERPRISE, uscc_recognised=True),
        make_organization(session, gz, state=OrgState.SUBMITTED),
        make_organization(session, gz, state=OrgState.REJECTED),
        make_organization(session, sz, state=OrgState.FIRST_APPROVED),
        make_organization(session, sz, state=OrgState.RETURNED, return_reason="补充材料"),
        make_organization(session, sz, state=OrgState.APPROVED, deleted=True),
        make_organization(session, fs, state=OrgState.APPROVED),
        make_organization(session, fs, state=OrgState.DRAFT),
        make_organization(session, fs, state=OrgState.SUBMITTED, category=OrgCategory.PUBLIC_INSTITUTION,
                          uscc_recognised=True),
    ]
    counter = 0
    for org, n in zip(orgs, (6, 3, 4, 3, 5, 3, 3, 6, 3, 4)):
        for _ in range(n):
            state, label, reuse, copay = PERSON_MIX[counter % len(PERSON_MIX)]
            counter += 1
            amount = (REUSE_FEE if reuse else FEE) if copay is CopayDecision.CONFIRMED and label is Label.PROFESSIONAL \
                else Decimal(0)
            bulk_persons(session, org, 1, state=state, label=label, is_reuse=reuse, copay=copay, copay_amount=amount,
                         badge_number="E8-OLD" if state in (PersonState.BADGE_PRODUCED, PersonState.BADGE_ISSUED)
                         else None)
    users = {"secretariat": world.secretariat, "finance": world.finance, "viewer": world.viewer,
             **{f"admin {code}": admin for code, admin in world.admins.items()},
             "admin GZ+SZ": make_user(session, Role.SUB_DELEGATION_ADMIN, gz, sz)}
    session.commit()
    return {"users": {k: u.id for k, u in users.items()}, "subs": [gz.id, sz.id, fs.id],
            "orgs": [o.id for o in orgs], "persons": list(session.scalars(select(Person.id).order_by(Person.id)))}


@pytest.fixture
def dataset(session):
    return build_dataset(session)


# --------------------------------------------------------------------------------------------------
# Observing the database
# --------------------------------------------------------------------------------------------------

def rows(session, model) -> dict[int, dict]:
    return {r.id: {k: value(v) for k, v in r._mapping.items()} for r in session.execute(select(model.__table__))}


def visible_ids(session, user, model) -> set[int]:
    return set(session.scalars(select(model.id).where(visible(user, model))))


def check_quotas(persons: dict, orgs: dict, subs: dict) -> None:
    """VIP/staff slots (persons not cancelled / review failed) within quotas; co-payment within budgets."""
    for label in (Label.VIP.value, Label.STAFF.value):
        holding = [p for p in persons.values() if p["label"] == label and p["state"] not in RELEASED]
        for group, owners, field in (("sub_delegation_id", subs, f"{label}_quota"),
                                     ("organization_id", orgs, f"{label}_quota")):
            used = Counter(p[group] for p in holding)
            for owner_id, n in used.items():
                assert n <= owners[owner_id][field], f"{group} {owner_id}: {n} {label} > quota {owners[owner_id][field]}"
    for sub_id, used in copay_in_use(persons).items():
        assert used <= Decimal(str(subs[sub_id]["copay_budget"])), f"sub-delegation {sub_id} co-payment over budget"
    for p in persons.values():
        if p["copay"] != CopayDecision.CONFIRMED.value or p["state"] in RELEASED:
            assert Decimal(str(p["copay_amount"])) == 0, f"person {p['id']} holds a co-payment it does not use"


def copay_in_use(persons: dict) -> dict[int, Decimal]:
    """{sub-delegation: co-payment of its co-paid persons who will still come (not cancelled, not review failed)}."""
    used = defaultdict(Decimal)
    for p in persons.values():
        if p["copay"] == CopayDecision.CONFIRMED.value and p["state"] not in RELEASED:
            used[p["sub_delegation_id"]] += Decimal(str(p["copay_amount"]))
    return used


def tighten(session, data, draw) -> None:
    """Quotas and budgets drawn between 'exactly what is used' and a little more."""
    persons = rows(session, Person)
    for sub_id in data["subs"]:
        mine = [p for p in persons.values() if p["sub_delegation_id"] == sub_id]
        used = {label: sum(1 for p in mine if p["label"] == label and p["state"] not in RELEASED)
                for label in ("vip", "staff")}
        copaid = sum((Decimal(str(p["copay_amount"])) for p in mine if p["copay"] == "confirmed"), Decimal(0))
        session.execute(update(SubDelegation).where(SubDelegation.id == sub_id).values(
            vip_quota=used["vip"] + draw(st.integers(0, 2)), staff_quota=used["staff"] + draw(st.integers(0, 2)),
            copay_budget=copaid + draw(st.sampled_from([0, 100, 200, 300, 600]))))
    for org_id in data["orgs"]:
        mine = [p for p in persons.values() if p["organization_id"] == org_id and p["state"] not in RELEASED]
        session.execute(update(Organization).where(Organization.id == org_id).values(
            vip_quota=sum(1 for p in mine if p["label"] == "vip") + draw(st.integers(0, 2)),
            staff_quota=sum(1 for p in mine if p["label"] == "staff") + draw(st.integers(0, 2))))
    session.flush()


# --------------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------------

def draw_step(draw, data):
    workflow = draw(st.sampled_from([ORG, PERSON, PERSON]))
    name = draw(st.sampled_from(workflow.names()))
    user = draw(st.sampled_from(ACTORS))
    pool = data["orgs"] if workflow is ORG else data["persons"]
    if draw(st.integers(0, 9)) == 0:
        target = "all"
    else:
        target = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True))
    params = {}
    for p in {p.name: p for t in workflow.variants(name) for p in t.params}.values():
        if p.kind == "choice":
            params[p.name] = draw(st.sampled_from([c for c, _ in PERSON.variants("set_label")[0].params[0].choices]))
        elif p.kind == "sub_delegation":
            params[p.name] = draw(st.sampled_from(data["subs"] + [MISSING_SUB]))
        else:
            params[p.name] = draw(st.sampled_from(REASONS))
    return workflow, name, user, target, params


def check_step(workflow, name, actor, target, result, error, before, after, new_audits, seen_before, decided):
    transition = workflow.for_role(name, actor.role)
    own = "orgs" if workflow is ORG else "persons"

    # States are members of their enum and reachable through the table.
    for wf, key in ((ORG, "orgs"), (PERSON, "persons")):
        for r in after[key].values():
            assert wf.states(r["state"]).value in REACHABLE[wf]

    changed = {key: {i for i in after[key] if after[key][i] != before[key][i]} for key in ("orgs", "persons")}
    if error is not None:
        assert changed == {"orgs": set(), "persons": set()} and new_audits == [], "a refused call changed data"
        assert isinstance(error, NotAllowed) == (transition is None or not actor.active)
        return

    assert actor.role in transition.roles
    assert not set(result.done) & set(result.skipped)
    assert all(CHINESE.search(why) for why in result.skipped.values())
    # Nothing outside the actor's scope was done or changed.
    assert set(result.done) <= seen_before[own]
    assert changed["orgs"] <= seen_before["orgs"] and changed["persons"] <= seen_before["persons"]
    if target != "all":
        assert set(result.done) | set(result.skipped) == set(target)
        assert {i for i, why in result.skipped.items() if why == NOT_VISIBLE} == set(target) - seen_before[own]

    # One audit entry per row done, of this transition, from the old state to the new one, by the actor;
    # and one more for each co-payment returned by a label change (checked below).
    returns = [e for e in new_audits if e.action == "person.copay_returned"]
    new_audits = [e for e in new_audits if e.action != "person.copay_returned"]
    assert sorted(e.object_id for e in new_audits) == sorted(result.done)
    for e in new_audits:
        assert (e.object_type, e.action, e.actor_id) == (workflow.object_type, transition.audit_action, actor.id)
        old, new = before[own][e.object_id], after[own][e.object_id]
        assert (e.from_state, e.to_state) == (old["state"], new["state"])
        assert workflow.states(e.from_state) in transition.sources
        assert workflow.states(e.to_state) in transition.outcomes()
        assert e.sub_delegation_id == old["sub_delegation_id"]
    # Every changed row was done; persons only change with a transition of an organisation by following it
    # to its new sub-delegation.
    assert changed[own] <= set(result.done)
    if workflow is PERSON:
        assert changed["orgs"] == set()
    else:
        moved = set(result.done) if name == "assign_delegation" else set()
        for pid in changed["persons"]:
            old, new = before["persons"][pid], after["persons"][pid]
            assert old["organization_id"] in moved, f"person {pid} changed without an audit entry"
            assert {k for k in old if old[k] != new[k]} <= {"sub_delegation_id", "updated_at"}
            assert new["sub_delegation_id"] == after["orgs"][old["organization_id"]]["sub_delegation_id"]
    for i in changed[own]:
        assert after[own][i]["updated_at"] != before[own][i]["updated_at"]
    for i in result.done:  # nothing is done (and audited) that changes nothing
        assert {k for k in after[own][i] if after[own][i][k] != before[own][i][k]} - {"updated_at"}, f"{own} {i}"

    # A co-payment comes back when a co-paid professional visitor is labelled staff or VIP, or a co-paid
    # person is cancelled or fails review: audited once, with the transition's parameters and the amount.
    returned = {pid for pid in result.done if workflow is PERSON and before["persons"][pid]["copay_amount"]
                and not after["persons"][pid]["copay_amount"]}
    assert sorted(e.object_id for e in returns) == sorted(returned)
    fired = {e.object_id: e for e in new_audits}
    for e in returns:
        old, new = before["persons"][e.object_id], after["persons"][e.object_id]
        if name in ("set_label", "upgrade_label"):
            assert new["label"] != Label.PROFESSIONAL.value
        else:
            assert name in ("cancel", "review_fail") and new["state"] in RELEASED
        assert e.params == {**(fired[e.object_id].params or {}),
                            "copay_returned": f"{Decimal(str(old['copay_amount'])):.2f}"}
        assert (e.actor_id, e.from_state, e.to_state) == (actor.id, new["state"], new["state"])
    released = {pid for pid in result.done if workflow is PERSON and after["persons"][pid]["state"] in RELEASED
                and before["persons"][pid]["copay"] == CopayDecision.CONFIRMED.value}
    assert {pid for pid in released if before["persons"][pid]["copay_amount"]} <= returned

    # Co-payment is decided at most once, and never changes afterwards.
    for pid, new in after["persons"].items():
        old = before["persons"][pid]
        if old["copay"] != CopayDecision.UNDECIDED.value:
            amount = 0 if pid in returned else old["copay_amount"]
            assert (new["copay"], new["copay_amount"]) == (old["copay"], amount), f"person {pid}"
        elif new["copay"] != old["copay"]:
            assert name in ("confirm_copay", "cancel_copay") and pid in result.done
            decided[pid] += 1
            assert decided[pid] == 1, f"person {pid}: co-payment decided twice"
        if new["label"] != old["label"] and name == "upgrade_label":
            assert Label(new["label"]).rank > Label(old["label"]).rank

    check_quotas(after["persons"], after["orgs"], after["subs"])


def snapshot_all(session):
    return {"orgs": rows(session, Organization), "persons": rows(session, Person), "subs": rows(session, SubDelegation)}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.data())
def test_random_transition_sequences_keep_the_rules(engine, dataset, data):
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, autoflush=False)
        try:
            tighten(session, dataset, data.draw)
            users = {k: session.get(User, uid) for k, uid in dataset["users"].items()}
            decided = Counter()
            state = snapshot_all(session)
            check_quotas(state["persons"], state["orgs"], state["subs"])
            last_audit = session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
            for _ in range(data.draw(st.integers(1, 10), label="steps")):
                workflow, name, user_key, target, params = draw_step(data.draw, dataset)
                actor = users[user_key]
                data.draw(st.just((workflow.object_type, name, user_key, target, params)), label="step")
                seen_before = {"orgs": visible_ids(session, actor, Organization),
                               "persons": visible_ids(session, actor, Person)}
                ids = select(workflow.model.id) if target == "all" else target
                result, error = None, None
                try:
                    result = run(session, workflow, name, ids, actor=actor, params=params)
                except (NotAllowed, InvalidParameter) as exc:
                    error = exc
                event(f"{workflow.object_type}.{name}: " + (type(error).__name__ if error else
                                                           "done" if result.done else "all skipped"))
                if result and any("额度" in why for why in result.skipped.values()):
                    event("refused for a quota or budget")
                after = snapshot_all(session)
                new_audits = list(session.scalars(select(AuditEntry).where(AuditEntry.id > last_audit)
                                                  .order_by(AuditEntry.id)))
                last_audit = max([last_audit] + [e.id for e in new_audits])
                if any(e.action == "person.copay_returned" for e in new_audits):
                    event("co-payment returned")
                check_step(workflow, name, actor, target, result, error, state, after, new_audits,
                           seen_before, decided)
                # The budget's usage as the domain counts it is what the persons who will still come hold.
                used, expected = copay_used(session, dataset["subs"]), copay_in_use(after["persons"])
                assert all(used[sub] == expected[sub] for sub in dataset["subs"]), (dict(used), dict(expected))
                assert_tallies_match(session)  # the dashboard's maintained counts follow every transition
                state = after
        finally:
            session.close()
            outer.rollback()
