"""Two finance users acting on the same money at the same moment: each row is acted on once, totals stay exact.

PostgreSQL. The first user's transaction acts and holds its row locks; the second user's starts in another
thread and is seen waiting for a lock (pg_stat_activity) before the first commits, so the two really
overlap every time. With the locks (SELECT ... FOR UPDATE, in id order) the second waits, then finds the
rows decided and skips them. Without them the second decides on what it read before the first committed:
its audit entries and its change no longer agree and the operation fails, or a row is acted on twice.
A barrier race (both released together, several rounds) runs on SQLite too.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest

from test_concurrency import race  # the same barrier race as the registration tests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from factories import make_user
from models import AuditEntry, Order, OrderState, PersonState, Refund, RefundState, Role, User
from models.enums import PaymentState
from models.finance import operations as fin
from models.finance.tables import Payment
from test_finance import finance_world, lines_of, ordered, pay, set_person_state, submit

ROUNDS = 3


def refunds_for(session, world, n=12):
    """n refund requests of review-failed persons on one paid order, and a second finance user; committed."""
    order, ids = ordered(session, world, n=n)
    pay(session, world, order)
    set_person_state(session, ids, PersonState.REVIEW_FAILED)
    refund_ids = fin.request_refund(session, [l.id for l in lines_of(session, order)], actor=world.admins["GZ"],
                                    method="original_route").refund_ids
    second = make_user(session, Role.FINANCE)
    session.commit()
    return order.id, refund_ids, world.finance.id, second.id


def voucher_for(session, world):
    """An order with a voucher under review, and a second finance user; committed."""
    order, ids = ordered(session, world, n=3)
    submit(session, world, order)
    payment_id = session.scalar(select(Payment.id).where(Payment.order_id == order.id))
    second = make_user(session, Role.FINANCE)
    session.commit()
    return order.id, ids, payment_id, world.finance.id, second.id


def waiting_for_a_lock(engine, pid: int, timeout: float = 5.0) -> bool:
    """True once the backend `pid` waits for a lock (it stays waiting until the holder ends)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                                   {"pid": pid}).scalar()
            if waiting:
                return True
            conn.rollback()
            time.sleep(0.02)
    return False


def overlap(engine, first, second):
    """first(session) acts and holds its locks; second(session) starts in a thread and must wait; then both commit."""
    outcome, errors = {}, []
    with Session(engine) as a:
        outcome["first"] = first(a)
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            conn.commit()  # the second user's session begins (and commits) its own transaction on this connection
            started = threading.Event()

            def run_second():
                try:
                    with Session(bind=conn) as b:
                        started.set()
                        outcome["second"] = second(b)
                        b.commit()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            thread = threading.Thread(target=run_second)
            thread.start()
            started.wait(5)
            outcome["waited"] = waiting_for_a_lock(engine, pid)
            a.commit()
            thread.join(30)
            assert not thread.is_alive(), "the second user is stuck"
    if errors:
        raise errors[0]
    return outcome


def as_user(user_id, verb, ids, **kw):
    def job(session):
        return verb(session, ids, actor=session.get(User, user_id), **kw)
    return job


def refund_facts(session, refund_ids):
    session.expire_all()
    refunded = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "refund.refunded")))
    approved = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "refund.approved")))
    total = session.scalar(select(func.coalesce(func.sum(Refund.amount), 0))
                           .where(Refund.state == RefundState.REFUNDED.value))
    states = set(session.scalars(select(Refund.state).where(Refund.id.in_(refund_ids))))
    return refunded, approved, Decimal(str(total)), states


@pytest.mark.postgresql_only
def test_two_batch_refunds_over_overlapping_refunds_refund_each_once(engine, session):
    world = finance_world(session)
    order_id, ids, finance, second = refunds_for(session, world)
    first_ids, second_ids = ids[:8], ids[4:]  # four refunds in both batches

    out = overlap(engine, as_user(finance, fin.batch_refund, first_ids), as_user(second, fin.batch_refund, second_ids))

    assert out["waited"], "the second batch did not wait for the first one's locks"
    a, b = out["first"], out["second"]
    assert a.done == first_ids and b.done == ids[8:]
    assert set(b.skipped) == set(ids[4:8]) and all("已退款" in why for why in b.skipped.values())
    refunded, approved, total, states = refund_facts(session, ids)
    assert refunded == Counter(ids) and approved == Counter(ids), "a refund was acted on twice"
    assert states == {RefundState.REFUNDED} and total == Decimal("200.00") * len(ids)


@pytest.mark.postgresql_only
def test_two_finance_users_verifying_the_same_voucher_verify_it_once(engine, session):
    world = finance_world(session)
    order_id, person_ids, payment_id, finance, second = voucher_for(session, world)

    out = overlap(engine, as_user(finance, fin.verify_payments, [payment_id]),
                  as_user(second, fin.verify_payments, [payment_id]))

    assert out["waited"], "the second verification did not wait for the first one's locks"
    assert out["first"].done == [payment_id] and out["second"].done == []
    assert out["second"].skipped[payment_id] == "当前状态为「已核验」，不能核验通过"
    session.expire_all()
    assert session.get(Order, order_id).state is OrderState.PAID
    actions = Counter(session.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(
        ["payment.verified", "order.paid", "person.paid"]))))
    assert actions == Counter({"payment.verified": 1, "order.paid": 1, "person.paid": len(person_ids)})
    settled = session.scalar(select(func.sum(Payment.amount)).where(Payment.state == PaymentState.VERIFIED.value))
    assert Decimal(str(settled)) == Decimal("600.00")


# --------------------------------------------------------------------------------------------------
# Released together by a barrier, on both databases
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_batch_refund_race_refunds_each_once(engine, session, round_):
    world = finance_world(session)
    _, ids, finance, second = refunds_for(session, world, n=10)
    a, b = race(engine, as_user(finance, fin.batch_refund, ids[:7]), as_user(second, fin.batch_refund, ids[3:]))
    assert set(a.done).isdisjoint(b.done) and set(a.done) | set(b.done) == set(ids)
    refunded, approved, total, _ = refund_facts(session, ids)
    assert refunded == Counter(ids) and approved == Counter(ids)
    assert total == Decimal("200.00") * len(ids)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_verify_race_pays_the_order_once(engine, session, round_):
    world = finance_world(session)
    order_id, person_ids, payment_id, finance, second = voucher_for(session, world)
    a, b = race(engine, as_user(finance, fin.verify_payments, [payment_id]),
                as_user(second, fin.verify_payments, [payment_id]))
    assert sorted(a.done + b.done) == [payment_id]
    session.expire_all()
    paid = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.paid")))
    assert paid == Counter(person_ids)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_same_gateway_notification_twice_at_once_records_one_payment(engine, session, round_):
    world = finance_world(session)
    order, person_ids = ordered(session, world, n=2)
    second = make_user(session, Role.FINANCE)
    session.commit()
    number, total = order.number, order.total_amount

    def notify(user_id):
        def job(s):
            return fin.record_gateway_payment(s, actor=s.get(User, user_id), order_number=number, method="qr_wechat",
                                              amount=total, reference="WX-SAME", paid_at=order.created_at)
        return job

    a, b = race(engine, notify(world.finance.id), notify(second.id))
    assert a == b and a.ok
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    paid = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.paid")))
    assert paid == Counter(person_ids)
