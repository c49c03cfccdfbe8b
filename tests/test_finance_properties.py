"""Random sequences of finance actions, by random users, never break the money rules.

A small dataset is committed once per test; each hypothesis example runs in one connection-level
transaction rolled back afterwards (operations never commit). Steps: create orders, pay by gateway
(repeated references, wrong amounts), submit vouchers, verify or reject them, cancel, expire, request /
issue / void invoices, cancel persons or fail their review, request / approve / reject refunds, mark them
refunded, batch refunds, give co-payments back. After every step:

- for every order, settled payments - refunds paid out = balance >= 0; settled is 0 or the whole total,
  and it is the whole total exactly when the order is paid;
- no line is refunded more than was paid for it, and a line has at most one active refund;
- no order has two valid invoices, and no refund is under way while the order has a valid invoice;
- no person is on two open orders; a person leaves pending_payment for review only with their order paid;
- every row created or changed has an audit entry of its own in the same step (and a refused call
  changes nothing at all).
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import make_organization, make_person, make_user, make_world
from models import (AuditEntry, CopayDecision, Invoice, Label, Order, OrderLine, OrgState, Payment, Person,
                    PersonState, Refund, Role, User)
from models.errors import DomainError
from models.finance import operations as fin
from models.registration import operations as reg

NOW = datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)
VOUCHER = "voucher/" + "cd" * 16 + ".pdf"
EXAMPLES = int(os.environ.get("FINANCE_PROPERTY_EXAMPLES", "30"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ACTORS = ["secretariat", "finance", "finance", "admin GZ", "admin SZ", "viewer"]
ACTIVE = {"requested", "approved"}
TABLES = {"order": Order, "line": OrderLine, "payment": Payment, "invoice": Invoice, "refund": Refund,
          "person": Person}
# What a row's audit entries are filed under: lines change with their order.
AUDITED_AS = {"order": "order", "payment": "payment", "invoice": "invoice", "refund": "refund", "person": "person"}


def build_dataset(session) -> dict:
    world = make_world(session, codes=("GZ", "SZ"))
    world.edition.transfer_deadline = date(2025, 10, 12)
    world.edition.qr_deadline = world.edition.b2b_deadline = date(2025, 10, 15)
    orgs = [make_organization(session, world.subs[c], state=OrgState.APPROVED) for c in ("GZ", "GZ", "SZ")]
    for org in orgs:
        for i in range(4):
            make_person(session, org, state=PersonState.PENDING_PAYMENT, is_reuse=(i == 3))
        make_person(session, org, state=PersonState.PENDING_REVIEW, copay=CopayDecision.CONFIRMED,
                    copay_amount=Decimal("200"))
        make_person(session, org, state=PersonState.PENDING_REVIEW, label=Label.VIP)
    users = {"secretariat": world.secretariat, "finance": world.finance, "viewer": world.viewer,
             **{f"admin {c}": a for c, a in world.admins.items()}}
    make_user(session, Role.FINANCE)  # a second finance account exists, as in real life
    # A head start: two orders paid (gateway, verified voucher), one unpaid, and persons out of review.
    waiting = select(Person.id).where(Person.state == PersonState.PENDING_PAYMENT.value)
    orders = fin.create_orders(session, list(session.scalars(waiting)), actor=world.secretariat, now=NOW).order_ids
    first, second = (session.get(Order, i) for i in orders[:2])
    fin.record_gateway_payment(session, actor=world.finance, order_number=first.number, method="b2b",
                               amount=first.total_amount, reference="B2B-0", paid_at=NOW, now=NOW)
    fin.submit_voucher(session, second.id, actor=world.secretariat, voucher=VOUCHER, amount=second.total_amount,
                       payer_kind="organization", payer_name="汇款单位", now=NOW)
    fin.verify_payments(session, select(Payment.id), actor=world.finance, now=NOW)
    paid_persons = select(OrderLine.person_id).where(OrderLine.order_id.in_(orders[:2]))
    reg.fail_review(session, list(session.scalars(paid_persons))[:3], actor=world.secretariat, reason="背审", now=NOW)
    reg.cancel_persons(session, list(session.scalars(paid_persons))[-2:], actor=world.secretariat, now=NOW)
    session.commit()
    return {"users": {k: u.id for k, u in users.items()},
            "persons": list(session.scalars(select(Person.id).order_by(Person.id)))}


@pytest.fixture
def dataset(session):
    return build_dataset(session)


def rows(session, model) -> dict[int, dict]:
    return {r.id: {k: getattr(v, "value", v) for k, v in r._mapping.items()}
            for r in session.execute(select(model.__table__))}


def snapshot(session) -> dict:
    return {key: rows(session, model) for key, model in TABLES.items()}


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------------------------------
# Steps: each draws its arguments from what exists now and calls one verb
# --------------------------------------------------------------------------------------------------

def pick(draw, ids, n=3):
    if not ids:
        return [987654]
    return draw(st.lists(st.sampled_from(sorted(ids)), min_size=1, max_size=n, unique=True))


def pick_where(draw, table: dict, wanted, n=3):
    """Mostly rows that the step can act on (so sequences get far), sometimes any row."""
    fitting = [i for i, r in table.items() if wanted(r)]
    return pick(draw, fitting if fitting and draw(st.integers(0, 4)) else list(table), n)


def unpaid(order):
    return order["state"] in ("unpaid", "voucher_submitted")


def step_create(draw, s, data, actor, state):
    return fin.create_orders(s, pick_where(draw, state["person"], lambda p: p["state"] == "pending_payment", 5),
                             actor=actor, now=NOW)


def step_cancel(draw, s, data, actor, state):
    return fin.cancel_orders(s, pick_where(draw, state["order"], unpaid), actor=actor, reason="重新选择", now=NOW)


def step_expire(draw, s, data, actor, state):
    as_of = draw(st.sampled_from([date(2025, 10, 12), date(2025, 10, 13), date(2025, 10, 16)]))
    return fin.expire_orders(s, actor=actor, as_of=as_of, now=NOW)


def step_gateway(draw, s, data, actor, state):
    order_id = pick_where(draw, state["order"], unpaid, 1)[0]
    order = state["order"].get(order_id)
    total = money(order["total_amount"]) if order else Decimal("200")
    amount = draw(st.sampled_from([total, total, total, total - Decimal("100")]))
    return fin.record_gateway_payment(
        s, actor=actor, order_number=order["number"] if order else "V-NONE",
        method=draw(st.sampled_from(["qr_alipay", "qr_wechat", "b2b"])), amount=max(amount, Decimal("1")),
        reference=draw(st.sampled_from(["R1", "R2", f"R-{order_id}", f"R-{order_id}"])), paid_at=NOW, now=NOW)


def step_voucher(draw, s, data, actor, state):
    order_id = pick_where(draw, state["order"], lambda o: o["state"] == "unpaid", 1)[0]
    order = state["order"].get(order_id, {"total_amount": 200})
    amount = draw(st.sampled_from([money(order["total_amount"]), money(order["total_amount"]), Decimal("1.00")]))
    return fin.submit_voucher(s, order_id, actor=actor, voucher=VOUCHER, amount=amount, payer_kind="organization",
                              payer_name="汇款单位", now=NOW)


def submitted(payment):
    return payment["state"] == "submitted"


def step_verify(draw, s, data, actor, state):
    return fin.verify_payments(s, pick_where(draw, state["payment"], submitted), actor=actor, now=NOW)


def step_reject(draw, s, data, actor, state):
    return fin.reject_vouchers(s, pick_where(draw, state["payment"], submitted), actor=actor, reason="凭证不清晰",
                               now=NOW)


def step_invoice(draw, s, data, actor, state):
    order_id = pick_where(draw, state["order"], lambda o: o["state"] == "paid", 1)[0]
    return fin.request_invoice(s, order_id, actor=actor, now=NOW, kind="electronic_normal",
                               title=draw(st.sampled_from([None, "汇款单位", "别的抬头"])),
                               tax_number="91440101MA5CXX1234")


def step_issue(draw, s, data, actor, state):
    return fin.issue_invoices(s, pick_where(draw, state["invoice"], lambda i: i["state"] == "requested", 1),
                              actor=actor, now=NOW, number=draw(st.sampled_from(["N1", "N2", "N3", "N4"])))


def step_void(draw, s, data, actor, state):
    return fin.void_invoices(s, pick_where(draw, state["invoice"], lambda i: i["state"] != "voided"), actor=actor,
                             reason="退票", now=NOW)


def step_person_out(draw, s, data, actor, state):
    ids = pick_where(draw, state["person"], lambda p: p["state"] == "pending_review")
    if actor.role is Role.SECRETARIAT and draw(st.booleans()):
        return reg.fail_review(s, ids, actor=actor, reason="背审未通过", now=NOW)
    return reg.cancel_persons(s, ids, actor=actor, now=NOW)


def step_refund(draw, s, data, actor, state):
    method = draw(st.sampled_from(["original_route", "bank_account"]))
    bank = dict(payee_name="张三", bank_account="6222000011112222", bank_name="中国银行", bank_code="104100000004")
    out = {pid for pid, p in state["person"].items() if p["state"] in ("review_failed", "cancelled")}
    paid = {oid for oid, o in state["order"].items() if o["state"] == "paid"}
    refundable = lambda l: l["person_id"] in out and l["order_id"] in paid  # noqa: E731
    return fin.request_refund(s, pick_where(draw, state["line"], refundable, 4), actor=actor,
                              method=method, now=NOW, **(bank if method == "bank_account" else {}))


def in_refund_state(*states):
    return lambda r: r["state"] in states


def step_approve(draw, s, data, actor, state):
    return fin.approve_refunds(s, pick_where(draw, state["refund"], in_refund_state("requested")), actor=actor,
                               now=NOW)


def step_reject_refund(draw, s, data, actor, state):
    return fin.reject_refunds(s, pick_where(draw, state["refund"], in_refund_state("requested", "approved")),
                              actor=actor, reason="不符合条件", now=NOW)


def step_mark(draw, s, data, actor, state):
    return fin.mark_refunded(s, pick_where(draw, state["refund"], in_refund_state("approved")), actor=actor, now=NOW)


def step_batch(draw, s, data, actor, state):
    return fin.batch_refund(s, pick_where(draw, state["refund"], in_refund_state("requested", "approved", "refunded"),
                                          5), actor=actor, now=NOW)


def step_give_back(draw, s, data, actor, state):
    return fin.give_back_copayment(s, pick_where(draw, state["person"], lambda p: p["copay_amount"], 5),
                                   actor=actor, now=NOW)


FINANCE_ONLY, REQUESTERS = ["finance"], ["admin GZ", "secretariat", "finance"]
ADMINS, EXPIRERS = ["admin GZ", "admin SZ", "secretariat"], ["finance", "secretariat"]
# step -> (weight, the users who normally take it); a fifth of the time anyone tries (and is mostly refused).
STEPS = {step_create: (3, ADMINS), step_cancel: (1, ADMINS), step_expire: (1, EXPIRERS),
         step_gateway: (3, FINANCE_ONLY), step_voucher: (2, REQUESTERS), step_verify: (2, FINANCE_ONLY),
         step_reject: (1, FINANCE_ONLY), step_invoice: (2, REQUESTERS), step_issue: (1, FINANCE_ONLY),
         step_void: (2, FINANCE_ONLY), step_person_out: (2, ["secretariat", "admin GZ"]),
         step_refund: (3, REQUESTERS), step_approve: (1, FINANCE_ONLY), step_reject_refund: (1, FINANCE_ONLY),
         step_mark: (1, FINANCE_ONLY), step_batch: (2, FINANCE_ONLY), step_give_back: (1, ["secretariat"])}
STEP_LIST = [step for step, (weight, _) in STEPS.items() for _ in range(weight)]


# --------------------------------------------------------------------------------------------------
# The rules, checked after every step
# --------------------------------------------------------------------------------------------------

def check_money(after) -> None:
    settled, refunded = defaultdict(Decimal), defaultdict(Decimal)
    for p in after["payment"].values():
        if p["state"] in ("verified", "recorded"):
            settled[p["order_id"]] += money(p["amount"])
    line_refunded, line_active = defaultdict(Decimal), Counter()
    for r in after["refund"].values():
        if r["state"] == "refunded":
            refunded[r["order_id"]] += money(r["amount"])
            line_refunded[r["order_line_id"]] += money(r["amount"])
        if r["state"] in ACTIVE | {"refunded"}:
            line_active[r["order_line_id"]] += 1
    for order_id, order in after["order"].items():
        total, paid = money(order["total_amount"]), settled[order_id]
        assert paid - refunded[order_id] >= 0, f"order {order_id}: balance below zero"
        assert paid in (Decimal(0), total), f"order {order_id}: settled {paid} of {total}"
        assert (order["state"] == "paid") == (paid == total > 0), f"order {order_id} {order['state']} settled {paid}"
    for line_id, line in after["line"].items():
        assert line_refunded[line_id] <= money(line["fee"]), f"line {line_id} refunded more than paid"
        assert line_active[line_id] <= 1, f"line {line_id}: two refunds under way or done"


def check_invoices(after) -> None:
    valid = Counter(i["order_id"] for i in after["invoice"].values() if i["state"] != "voided")
    assert all(n == 1 for n in valid.values()), "an order with two valid invoices"
    for r in after["refund"].values():
        if r["state"] in ACTIVE:
            assert r["order_id"] not in valid, f"refund {r['id']} under way while order {r['order_id']} is invoiced"


def check_persons(before, after, new_audits) -> None:
    open_lines = Counter(l["person_id"] for l in after["line"].values() if l["is_open"])
    assert all(n == 1 for n in open_lines.values()), "a person on two open orders"
    paid_orders = {i for i, o in after["order"].items() if o["state"] == "paid"}
    paid_entries = Counter(e.object_id for e in new_audits if e.action == "person.paid")
    for pid, person in after["person"].items():
        old = before["person"][pid]["state"]
        if old == "pending_payment" and person["state"] == "pending_review":
            assert any(l["person_id"] == pid and l["order_id"] in paid_orders and l["is_open"]
                       for l in after["line"].values()), f"person {pid} left pending_payment without a paid order"
            assert paid_entries[pid] == 1


def check_audited(before, after, new_audits, error) -> None:
    changed = {key: {i for i, r in after[key].items() if before[key].get(i) != r} for key in TABLES}
    if error is not None:
        assert not any(changed.values()) and new_audits == [], f"a refused call changed {changed}"
        return
    audited = defaultdict(set)
    for e in new_audits:
        audited[e.object_type].add(e.object_id)
    for key, ids in changed.items():
        if key == "line":  # lines are created and closed by their order's transitions
            for line_id in ids:
                assert after["line"][line_id]["order_id"] in audited["order"], f"line {line_id} changed unaudited"
            continue
        assert ids <= audited[AUDITED_AS[key]], f"{key} {sorted(ids - audited[AUDITED_AS[key]])} changed unaudited"
    last_state = {}
    for e in new_audits:  # every entry is about a row of this step; the last one ends where the row is now
        key = {v: k for k, v in AUDITED_AS.items()}[e.object_type]
        assert e.object_id in after[key], f"audit entry for a missing {key}"
        if e.to_state is not None:
            last_state[key, e.object_id] = e.to_state
    for (key, object_id), to_state in last_state.items():
        assert after[key][object_id]["state"] == to_state, f"{key} {object_id}: audited {to_state}"


def outcome_of(result) -> str:
    if isinstance(result, list):
        return "done" if result else "nothing"
    if hasattr(result, "ok"):
        return "done" if result.ok else "refused"
    if hasattr(result, "done"):
        return "done" if result.done else "all skipped"
    return "done"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.data())
def test_random_finance_sequences_keep_the_money_rules(engine, dataset, data):
    with engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn, autoflush=False)
        try:
            users = {k: s.get(User, uid) for k, uid in dataset["users"].items()}
            state = snapshot(s)
            last_audit = s.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
            for _ in range(data.draw(st.integers(5, 25), label="steps")):
                step = data.draw(st.sampled_from(STEP_LIST), label="step")
                usual = STEPS[step][1]
                user_key = data.draw(st.sampled_from(usual if data.draw(st.integers(0, 4)) else ACTORS), label="user")
                result, error = None, None
                try:
                    result = step(data.draw, s, dataset, users[user_key], state)
                except DomainError as exc:
                    error = exc
                    assert CHINESE.search(str(exc)), str(exc)
                event(f"{step.__name__}: {type(error).__name__ if error else outcome_of(result)}")
                for why in getattr(result, "skipped", {}).values():
                    assert CHINESE.search(why), why
                after = snapshot(s)
                new_audits = list(s.scalars(select(AuditEntry).where(AuditEntry.id > last_audit)
                                            .order_by(AuditEntry.id)))
                last_audit = max([last_audit] + [e.id for e in new_audits])
                check_money(after)
                check_invoices(after)
                check_persons(state, after, new_audits)
                check_audited(state, after, new_audits, error)
                state = after
        finally:
            s.close()
            outer.rollback()
