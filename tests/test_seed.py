"""Demo data: the recruitment table, the edition, and seed_demo's history made through the domain.

One seed_demo run (SEED_DEMO_SIZE, default 200/1000; `SEED_DEMO_SIZE=2000/10000` for the by-hand run)
in a database of its own per backend is read by the history tests: every state reached through the
workflow and reachable from its audit entries, eight ISO weeks of history, the right users acting,
quotas and budgets holding, valid USCCs and resident IDs; money in every state finance works on (orders,
payments with real voucher files, invoices, refunds), paid orders covered by their payments. Smaller
runs check re-runs, determinism and the `demo` command.
"""
from __future__ import annotations

import os
import tomllib
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

import models
from admin_app import create_app
from models import files
from admin_app.seed import (DELEGATION_TREE, EDITION, ensure_edition, load_recruitment_table, seed_delegation_tree,
                            seed_demo)
from admin_app.seed.tree import ACCOUNT_PREFIX, registration_weeks
from factories import (admin_database_url, create_scratch_database, drop_scratch_database, fast_password_hashing,
                       make_engine)
from models import (AuditEntry, CopayDecision, Delegation, IdType, Invoice, InvoiceState, Label, Order, OrderLine,
                    OrderState, OrgAddress, Organization, OrgState, Payment, PaymentMethod, Person, PersonState,
                    Refund, RefundState, Role, SubDelegation, SubDelegationKind, User)
from models.enums import PaymentState
from models.finance.balances import order_money
from models.present import action_label, describe_params
from models.delegation.operations import authenticate
from models.registration.quotas import fee_expression, organization_usage, sub_delegation_usage
from models.validation import validate_id_document, validate_mobile

BADGED = {PersonState.BADGE_PRODUCED, PersonState.BADGE_ISSUED}
RELEASED = {PersonState.CANCELLED, PersonState.REVIEW_FAILED}
# What a seed_demo run creates, dependants first (so they can be deleted in this order).
DEMO_ROWS = (Refund, Invoice, Payment, OrderLine, Order, Person, OrgAddress, Organization)
SIZE = tuple(int(n) for n in os.environ.get("SEED_DEMO_SIZE", "200/1000").split("/"))
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed_uploads(tmp_path_factory):
    """Where the seeded runs store their transfer vouchers."""
    return tmp_path_factory.mktemp("seed_uploads")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request, tmp_path_factory, seed_uploads):
    """(session, summary) of one seed_demo run in a database of its own; the tests only read it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'seeded.sqlite'}"
    elif os.environ.get("SKIP_POSTGRES", "").strip().lower() in {"1", "true", "yes"}:
        pytest.skip("SKIP_POSTGRES=1")
    else:
        url = create_scratch_database(admin_database_url(), prefix="dd_seed")
    engine = make_engine(url)
    try:
        models.Base.metadata.create_all(engine)
        with Session(engine) as session, fast_password_hashing():
            summary = seed_demo(session, orgs=SIZE[0], persons=SIZE[1], seed=3, uploads=seed_uploads)
            session.commit()
            yield session, summary
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_scratch_database(url, admin_database_url())


@pytest.fixture(autouse=True)
def cheap_hashing():
    """The seed's own accounts get random passwords; scrypt would spend 0.2 s on each."""
    with fast_password_hashing():
        yield


@pytest.fixture(autouse=True)
def uploads_root(tmp_path, monkeypatch):
    """The storage root models.files uses when seed_demo is given none (the app configures UPLOADS_DIR)."""
    monkeypatch.setattr(files, "_root", tmp_path / "uploads")
    return tmp_path / "uploads"


# --- the reference data ----------------------------------------------------------------------------------


def test_recruitment_table_is_a_data_file_shipped_with_the_package():
    members = load_recruitment_table()
    assert members == DELEGATION_TREE and len(members) == 26
    assert sum(m.target for m in members) == 3500  # 合 计 of the seed's 招商工作任务分解表
    assert (members[6].seq, members[6].name, members[6].target) == (7, "广州市", 400)
    assert [m.seq for m in members] == list(range(1, 27))
    assert all(len(m.region) == 6 and m.phone_area.startswith("0") for m in members)
    data = ROOT / "models" / "delegation" / "data" / "recruitment_targets.csv"
    assert data.read_text(encoding="utf-8").splitlines()[0].startswith("序号,成员单位,组织采购商（家数）")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/*.csv" in package_data["models.delegation"]


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
    # Created through the domain: one audited create each, by the secretariat.
    created = session.execute(select(AuditEntry.object_id, User.role).join(User, User.id == AuditEntry.actor_id)
                              .where(AuditEntry.action == "sub_delegation.created")).all()
    assert sorted(i for i, _ in created) == sorted(s.id for s in subs.values())
    assert {role for _, role in created} == {Role.SECRETARIAT}


def test_edition_is_created_once(session):
    edition = ensure_edition(session)
    assert ensure_edition(session) is edition
    assert edition.is_current and edition.fee_per_label == Decimal("200") and edition.reuse_fee_percent == 50
    assert session.scalar(select(func.count()).where(AuditEntry.action == "expo_edition.created")) == 1


# --- one seeded history ----------------------------------------------------------------------------------


def test_seed_demo_covers_every_state_within_the_rules(seeded):
    session, summary = seeded
    assert summary["organizations"] == SIZE[0] and summary["persons"] == SIZE[1]
    assert set(summary["org_states"]) == {s.value for s in OrgState}
    assert set(summary["person_states"]) == {s.value for s in PersonState}
    assert set(summary["labels"]) == {label.value for label in Label}
    assert set(summary["copay"]) == {c.value for c in CopayDecision}

    orgs = session.scalars(select(Organization)).all()
    persons = session.scalars(select(Person)).all()
    assert len(orgs) == SIZE[0] and len(persons) == SIZE[1]
    assert {o.sub_delegation_id for o in orgs} == {s.id for s in session.scalars(select(SubDelegation))}
    assert {o.state for o in orgs} == set(OrgState) and {p.state for p in persons} == set(PersonState)
    assert 0 < sum(o.deleted_at is not None for o in orgs) <= max(1, SIZE[0] // 50)

    for org in orgs:
        assert (org.uscc is None) == org.category.is_overseas
        if org.state is OrgState.RETURNED:
            assert org.return_reason
        if org.return_reason:
            assert org.state in (OrgState.RETURNED, OrgState.REJECTED)
        assert (org.reject_reason is not None) == (org.state is OrgState.REJECTED)
        assert (org.submitted_at is None) == (org.state is OrgState.DRAFT)
    usccs = [o.uscc for o in orgs if o.uscc]
    assert len(usccs) == len(set(usccs))

    addresses = session.scalars(select(OrgAddress)).all()
    assert addresses and {a.position for a in addresses} <= {1, 2, 3, 4, 5}
    address_org = {a.id: a.organization_id for a in addresses}

    org_state = {o.id: o.state for o in orgs}
    org_sub = {o.id: o.sub_delegation_id for o in orgs}
    fees = dict(session.execute(select(Person.id, fee_expression())).all())
    for p in persons:
        assert validate_mobile(p.mobile) == p.mobile
        document = validate_id_document(p.id_type, p.id_number)
        if p.id_type is IdType.RESIDENT_ID:
            assert not document.warnings and document.birth_date == p.birth_date
        assert p.sub_delegation_id == org_sub[p.organization_id]
        if org_state[p.organization_id] is not OrgState.APPROVED:
            assert p.state not in BADGED | {PersonState.APPROVED, PersonState.REVIEW_FAILED}
        if p.state in BADGED:
            assert p.badge_number
        elif p.badge_number:  # the cancel transition leaves a produced badge's number on the row
            assert p.state is PersonState.CANCELLED
        assert p.address_id is None or address_org[p.address_id] == p.organization_id
        if p.state is PersonState.PENDING_LOCK:
            assert p.is_reuse
        if p.is_reuse:
            assert p.prior_badge_number
        if p.state is PersonState.PENDING_PAYMENT:
            assert p.label is Label.PROFESSIONAL and p.copay is not CopayDecision.CONFIRMED
        if p.copay is CopayDecision.CONFIRMED and p.state in RELEASED:
            assert p.copay_amount == 0  # given back to the budget when cancelled or failing review
        elif p.copay is CopayDecision.CONFIRMED:
            # What the budget holds for the person: the fee of the current label (0 once upgraded to a free one).
            assert p.copay_amount == Decimal(str(fees[p.id]))
            assert p.copay_amount > 0 or p.label is not Label.PROFESSIONAL
        else:
            assert p.copay_amount == 0
    # Every co-paid person who will not come gave the co-payment back, audited (each had a fee when confirmed).
    returned = set(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.copay_returned")))
    released = {p.id for p in persons if p.copay is CopayDecision.CONFIRMED and p.state in RELEASED}
    assert released and released <= returned
    keys = [(p.id_type, p.id_number) for p in persons]
    assert len(keys) == len(set(keys))
    assert any(p.is_reuse for p in persons) and summary["done"]["upgrade_label"] > 0
    assert {p.id_type for p in persons} == set(IdType)


def test_usccs_and_mainland_ids_pass_stdnum(seeded):
    session, _ = seeded
    codes = session.scalars(select(Organization.uscc).where(Organization.uscc.is_not(None))).all()
    assert codes and all(uscc.is_valid(code) for code in codes)
    ids = session.scalars(select(Person.id_number).where(Person.id_type == IdType.RESIDENT_ID)).all()
    assert ids and all(ric.is_valid(number) for number in ids)


def test_quotas_and_budgets_hold(seeded):
    session, summary = seeded
    assert_quotas_hold(session)
    assert summary["refused"]["set_label"] > 0  # quotas were reached, and the domain said no


def test_history_spans_the_eight_weeks_before_the_deadline(seeded):
    session, summary = seeded
    edition = ensure_edition(session)
    entries = session.execute(select(AuditEntry.at, AuditEntry.action).where(
        AuditEntry.object_type.in_(("organization", "person")))).all()
    weeks = Counter(utc(at).isocalendar()[:2] for at, _ in entries)
    assert len(weeks) >= 8 and sorted(weeks) == summary["iso_weeks"]
    first, deadline = registration_weeks(edition)[0], edition.transfer_deadline
    assert all(first <= utc(at).date() <= deadline for at, _ in entries)
    # Weekly progress has data: every week registers organisations and moves some along.
    for week in {w for w in weeks}:
        actions = {a for at, a in entries if utc(at).isocalendar()[:2] == week}
        assert "organization.created" in actions and "person.created" in actions, week
        assert actions & {"organization.submitted", "organization.first_approved", "person.submitted"}, week
    # Rows carry their back-dated times: created when their creation was audited.
    created = dict(session.execute(select(AuditEntry.object_id, AuditEntry.at).where(
        AuditEntry.action == "organization.created")).all())
    for org_id, created_at in session.execute(select(Organization.id, Organization.created_at)):
        assert utc(created_at) == utc(created[org_id])


def test_history_ends_at_a_mid_week_deadline(session):
    session.add(models.ExpoEdition(**dict(EDITION, transfer_deadline=date(2025, 10, 15))))  # a Wednesday
    session.flush()
    summary = seed_demo(session, orgs=26, persons=100, seed=2)
    last = session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.object_type.in_(("organization", "person"))))
    assert utc(last) <= datetime(2025, 10, 15, 14, tzinfo=timezone.utc)  # 22:00 in Beijing
    assert set(summary["iso_weeks"]) <= {(2025, week) for week in range(35, 43)}  # the eight weeks up to it


def test_every_current_state_is_reached_by_its_audit_history(seeded):
    session, _ = seeded
    for model, object_type, entry_states in ((Organization, "organization", {"draft"}),
                                             (Person, "person", {"saved", "pending_lock"})):
        history = defaultdict(list)
        for row in session.execute(select(AuditEntry).where(AuditEntry.object_type == object_type)
                                   .order_by(AuditEntry.at, AuditEntry.id)).scalars():
            history[row.object_id].append(row)
        current = dict(session.execute(select(model.id, model.state)).all())
        assert set(history) == set(current)
        for object_id, entries in history.items():
            assert entries[0].action == f"{object_type}.created" and entries[0].to_state in entry_states
            state = entries[0].to_state
            for entry in entries[1:]:
                if entry.to_state is None:
                    continue  # an edit: no state involved
                assert entry.from_state == state, (object_type, object_id, entry.action)
                state = entry.to_state
            assert state == current[object_id].value, (object_type, object_id)


def test_each_step_is_done_in_batches_by_the_user_whose_job_it_is(seeded):
    session, _ = seeded
    rows = session.execute(select(AuditEntry.action, AuditEntry.at, AuditEntry.sub_delegation_id, User.role,
                                  User.username, User.id).join(User, User.id == AuditEntry.actor_id).where(
        AuditEntry.object_type.in_(("organization", "person")))).all()
    bound = {user.id: set(user.sub_delegation_ids) for user in session.scalars(select(User))}
    roles = defaultdict(set)
    for action, _, sub_id, role, username, user_id in rows:
        assert username.startswith(ACCOUNT_PREFIX)
        roles[action].add(role)
        if role is Role.SUB_DELEGATION_ADMIN:
            assert sub_id in bound[user_id], (action, username)  # each admin acts on their own sub-delegation
    assert roles["organization.first_approved"] == {Role.SUB_DELEGATION_ADMIN}
    assert roles["organization.approved"] == {Role.SECRETARIAT}
    assert roles["person.paid"] == {Role.FINANCE}
    assert roles["person.review_passed"] == roles["person.badge_issued"] == {Role.SECRETARIAT}
    # Set-based: one verb call changes many rows with one time and one actor.
    batches = Counter((action, at, user_id) for action, at, _, _, _, user_id in rows)
    for action in ("organization.submitted", "person.submitted", "person.review_passed", "person.badge_produced"):
        assert max(n for (a, _, _), n in batches.items() if a == action) > 1, action


# --- money: orders, payments, invoices, refunds ----------------------------------------------------------

MONEY = {"order": Order, "payment": Payment, "invoice": Invoice, "refund": Refund}
# The states money rows are created in (by create_orders, submit_voucher, record_gateway_payment,
# request_invoice, request_refund), and the states the demo must leave for finance to work on.
MONEY_ENTRY_STATES = {"order": {"unpaid"}, "payment": {"submitted", "recorded"}, "invoice": {"requested"},
                      "refund": {"requested"}}


def test_money_reaches_every_state_finance_works_on(seeded):
    session, summary = seeded
    counted = {t: Counter(getattr(s, "value", s) for s in session.scalars(select(model.state)))
               for t, model in MONEY.items()}
    assert set(counted["order"]) == {s.value for s in OrderState}
    assert {"submitted", "verified", "rejected", "recorded"} <= set(counted["payment"])
    assert {"requested", "issued", "voided"} <= set(counted["invoice"])
    assert {"requested", "approved", "refunded"} <= set(counted["refund"])
    methods = {m.value for m in session.scalars(select(Payment.method))}
    assert {"transfer", "b2b"} <= methods and methods & {"qr_alipay", "qr_wechat", "qr_unionpay"}
    assert {m.value for m in session.scalars(select(Refund.method))} == {"original_route", "bank_account"}
    assert sum(summary["order_states"].values()) == sum(counted["order"].values())
    assert summary["refund_states"] == dict(sorted(counted["refund"].items()))


def test_paid_orders_are_covered_by_their_payments_and_nothing_is_paid_or_refunded_twice(seeded):
    session, _ = seeded
    money = order_money(session, session.scalars(select(Order.id)).all())
    for order in session.scalars(select(Order)):
        settled = money[order.id]["settled"]
        if order.state is OrderState.PAID:
            assert settled == order.total_amount > 0, order.number  # the settling payment covers the total
        else:
            assert settled == 0, order.number
        assert money[order.id]["balance"] >= 0
    refunded = defaultdict(Decimal)
    for refund in session.scalars(select(Refund)):
        line = session.get(OrderLine, refund.order_line_id)
        assert refund.order.state is OrderState.PAID and line.person.state in RELEASED
        assert refund.amount == line.fee
        if refund.state is RefundState.REFUNDED:
            refunded[line.id] += refund.amount
            assert refund.batch and refund.refunded_at
    assert all(total <= session.get(OrderLine, line_id).fee for line_id, total in refunded.items())
    # An order is never invoiced while a refund of it is under way (the invoice is voided first).
    invoiced = set(session.scalars(select(Invoice.order_id).where(Invoice.state != InvoiceState.VOIDED)))
    refunding = set(session.scalars(select(Refund.order_id).where(
        Refund.state.in_([RefundState.REQUESTED, RefundState.APPROVED]))))
    assert not invoiced & refunding
    # A person leaves pending_payment only when their order is paid.
    on_paid = set(session.scalars(select(OrderLine.person_id).join(Order).where(Order.state == OrderState.PAID)))
    waiting = set(session.scalars(select(Person.id).where(Person.state == PersonState.PENDING_PAYMENT)))
    assert on_paid and not on_paid & waiting
    left_waiting = set(session.scalars(select(AuditEntry.object_id).where(
        AuditEntry.object_type == "person", AuditEntry.from_state == "pending_payment",
        AuditEntry.to_state == "pending_review")))
    assert left_waiting and left_waiting <= on_paid | upgraded(session)


def test_vouchers_are_stored_files_that_pass_the_content_check(seeded, seed_uploads):
    session, _ = seeded
    vouchers = session.execute(select(Payment.voucher_file, Payment.state, Payment.review_note, User.role)
                               .outerjoin(User, User.id == Payment.verified_by_id)
                               .where(Payment.method == PaymentMethod.TRANSFER)).all()
    kinds = Counter()
    for name, state, note, reviewer in vouchers:
        kinds[files.sniff("voucher", files.path_of(name, root=seed_uploads).read_bytes())] += 1
        if state is PaymentState.SUBMITTED:
            assert reviewer is None and note is None
        else:
            assert reviewer is Role.FINANCE and (note is not None) == (state is PaymentState.REJECTED)
    assert set(kinds) == {"png", "pdf"}


def test_money_is_moved_by_the_users_whose_job_it_is(seeded):
    session, _ = seeded
    rows = session.execute(select(AuditEntry.action, AuditEntry.sub_delegation_id, User.role, User.id)
                           .join(User, User.id == AuditEntry.actor_id)
                           .where(AuditEntry.object_type.in_(MONEY))).all()
    bound = {user.id: set(user.sub_delegation_ids) for user in session.scalars(select(User))}
    roles = defaultdict(set)
    for action, sub_id, role, user_id in rows:
        roles[action].add(role)
        if role is Role.SUB_DELEGATION_ADMIN:
            assert sub_id in bound[user_id], action
    admins, finance = {Role.SUB_DELEGATION_ADMIN}, {Role.FINANCE}
    for action in ("order.created", "order.cancelled", "order.voucher_submitted", "payment.submitted",
                   "invoice.requested", "invoice.void_requested", "refund.requested"):
        assert roles[action] == admins, action
    for action in ("payment.recorded", "payment.verified", "payment.rejected", "order.paid", "order.voucher_rejected",
                   "order.expired", "invoice.issued", "invoice.voided", "refund.approved", "refund.refunded"):
        assert roles[action] == finance, action


def test_every_money_state_is_reached_by_its_audit_history(seeded):
    session, _ = seeded
    for object_type, model in MONEY.items():
        history = defaultdict(list)
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.object_type == object_type)
                                     .order_by(AuditEntry.at, AuditEntry.id)):
            history[entry.object_id].append(entry)
        current = {i: getattr(s, "value", s) for i, s in session.execute(select(model.id, model.state))}
        assert set(history) == set(current), object_type
        for object_id, entries in history.items():
            assert entries[0].from_state is None and entries[0].to_state in MONEY_ENTRY_STATES[object_type]
            for before, after in zip(entries, entries[1:]):
                assert after.from_state == before.to_state, (object_type, object_id, after.action)
            assert entries[-1].to_state == current[object_id], (object_type, object_id)


def test_every_audit_action_of_the_demo_reads_as_words(seeded):
    session, _ = seeded
    first_of_each = select(func.min(AuditEntry.id)).group_by(AuditEntry.action)
    for action, object_type, params in session.execute(select(AuditEntry.action, AuditEntry.object_type,
                                                              AuditEntry.params).where(AuditEntry.id.in_(first_of_each))):
        for lang in ("zh", "en"):
            assert action_label(action, lang) != action, action
            for line in describe_params(object_type, action, params, lang):
                assert line.replace("：", ": ").split(": ")[0] not in (params or {}), (action, line)


# --- re-runs and determinism -----------------------------------------------------------------------------


def test_seed_demo_again_respects_existing_rows(session):
    seed_demo(session, orgs=26, persons=100, seed=1)
    seed_demo(session, orgs=26, persons=100, seed=1)
    session.commit()  # the unique constraints hold
    assert session.scalar(select(func.count()).select_from(Person)) == 200
    assert session.scalar(select(func.count()).select_from(User).where(User.username.like(ACCOUNT_PREFIX + "%"))) == 28
    assert_quotas_hold(session)


def test_seed_demo_is_deterministic(session):
    first = seed_demo(session, orgs=26, persons=100, seed=7)
    rows = fingerprint(session)
    for model in DEMO_ROWS:
        session.execute(delete(model))
    assert seed_demo(session, orgs=26, persons=100, seed=7) == first
    assert fingerprint(session) == rows
    for model in DEMO_ROWS:
        session.execute(delete(model))
    seed_demo(session, orgs=26, persons=100, seed=8)
    assert fingerprint(session) != rows


def test_seed_demo_needs_organisations_for_persons(session):
    with pytest.raises(ValueError):
        seed_demo(session, orgs=0, persons=10)
    assert seed_demo(session, orgs=0, persons=0)["organizations"] == 0


# --- the demo command ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_reset_starts_from_an_empty_database(backend, tmp_path):
    if backend == "postgresql" and os.environ.get("SKIP_POSTGRES", "").strip().lower() in {"1", "true", "yes"}:
        pytest.skip("SKIP_POSTGRES=1")
    url = (f"sqlite:///{tmp_path / 'demo.sqlite'}" if backend == "sqlite"
           else create_scratch_database(admin_database_url(), prefix="dd_demo"))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x",
                      "REPORTS_DIR": str(tmp_path / "reports"), "UPLOADS_DIR": str(tmp_path / "uploads")})
    runner = app.test_cli_runner()
    small = ["--no-serve", "--orgs", "30", "--persons", "100"]
    try:
        first = runner.invoke(args=["demo", *small])
        assert first.exit_code == 0, first.output
        counts = table_counts(app)
        assert counts["organization"] == 30 and counts["person"] == 100 and counts["audit_entry"] > 130

        again = runner.invoke(args=["demo", *small])  # without --reset: seeded only when empty
        assert again.exit_code == 0, again.output
        assert table_counts(app) == counts

        reset = runner.invoke(args=["demo", "--reset", *small])
        assert reset.exit_code == 0, reset.output
        # Dropped and built again, not added to: the audit log (which refuses DELETE) starts over too.
        assert table_counts(app) == counts
        from admin_app.extensions import db
        with app.app_context():
            assert authenticate(db.session, "guangzhou", "demo-guangzhou") is not None
            db.session.remove()
            db.engine.dispose()
    finally:
        if backend == "postgresql":
            drop_scratch_database(url, admin_database_url())


# --- helpers ---------------------------------------------------------------------------------------------


def table_counts(app) -> dict[str, int]:
    from admin_app.extensions import db

    with app.app_context():
        counts = {table: db.session.scalar(select(func.count()).select_from(models.Base.metadata.tables[table]))
                  for table in ("organization", "person", "audit_entry", "admin_user", "sub_delegation")}
        db.session.remove()
        return counts


def upgraded(session) -> set[int]:
    """Persons whose label upgrade took them out of pending_payment (a free label needs no payment)."""
    return set(session.scalars(select(AuditEntry.object_id).where(
        AuditEntry.action == "person.label_upgraded", AuditEntry.from_state == "pending_payment")))


def utc(at: datetime) -> datetime:
    """A stored time as aware UTC (SQLite gives naive UTC back)."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


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


def test_the_maintained_counts_equal_the_rows_after_eight_weeks_of_history(seeded):
    from tallies_check import assert_tallies_match

    session, _ = seeded
    assert_tallies_match(session)
