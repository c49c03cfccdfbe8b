"""Benchmark: order creation for N persons and batch refund of M refunds, on PostgreSQL (and/or SQLite).

    python tests/benchmarks/bench_finance.py [--persons 50000] [--refunds 10000] [--db postgresql|sqlite|both]

For a small and a large size of each it builds the data (not timed), runs the operation once, commits, and
prints the elapsed time and the number of SQL statements the operation executed (before_cursor_execute).
The statement count must not grow with the row count; the script exits 1 if it does. Not collected by
pytest. PostgreSQL: a scratch database on TEST_DATABASE_URL's server, dropped at the end.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]  # the project, and tests/ for factories

from sqlalchemy import event, insert, select, update  # noqa: E402
from sqlalchemy.orm import Session, joinedload  # noqa: E402

import models  # noqa: E402
from common import DATABASES, databases, scratch_engine, statement_growth  # noqa: E402
from factories import bulk_organizations, make_world, person_values, truncate_all  # noqa: E402
from models import Order, OrderLine, Organization, OrgState, Person, PersonState, User  # noqa: E402
from models.finance import operations as fin  # noqa: E402
from models.finance.tables import Refund  # noqa: E402
from reports.finance import write_bank_batch  # noqa: E402

PER_ORG = 100
CHUNK = 10_000
BANK = dict(payee_name="张三", bank_account="6222020200112233445", bank_name="中国银行上海市浦东分行",
            bank_code="104290003017")


def waiting_persons(session, world, n: int) -> list[int]:
    """n persons waiting for payment, PER_ORG per approved organisation of GZ; their ids."""
    org_ids = bulk_organizations(session, world.subs["GZ"], max(1, -(-n // PER_ORG)), state=OrgState.APPROVED)
    orgs = list(session.scalars(select(Organization).where(Organization.id.in_(org_ids)).order_by(Organization.id)))
    rows = [person_values(orgs[i // PER_ORG], state=PersonState.PENDING_PAYMENT) for i in range(n)]
    ids = []
    for start in range(0, n, CHUNK):
        ids += session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True),
                               rows[start:start + CHUNK])
    return ids


class Counter:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)


def actor(session, user_id):
    return session.get(User, user_id, options=[joinedload(User.sub_delegations)])


def measure_orders(engine, n: int) -> dict:
    truncate_all(engine)
    with Session(engine) as session:
        world = make_world(session)
        ids = waiting_persons(session, world, n)
        session.commit()
        admin_id = world.admins["GZ"].id
    with Session(engine) as session:
        admin = actor(session, admin_id)
        with Counter(engine) as c:
            batch = fin.create_orders(session, ids, actor=admin)
            session.commit()
    assert len(batch.done) == n and len(batch.order_ids) == -(-n // PER_ORG), (len(batch.done), batch.skipped)
    return {"what": "create_orders", "rows": n, "seconds": c.seconds, "statements": len(c.statements)}


def measure_batch_refund(engine, n: int) -> dict:
    truncate_all(engine)
    with Session(engine) as session:
        world = make_world(session)
        ids = waiting_persons(session, world, n)
        orders = fin.create_orders(session, ids, actor=world.admins["GZ"]).order_ids
        for order in session.scalars(select(Order).where(Order.id.in_(orders))):
            submit_and_verify(session, world, order)
        session.execute(update(Person).where(Person.id.in_(ids)).values(state=PersonState.REVIEW_FAILED.value))
        lines = list(session.scalars(select(OrderLine.id).order_by(OrderLine.id)))
        fin.request_refund(session, lines[::2], actor=world.admins["GZ"], method="bank_account", **BANK)
        fin.request_refund(session, lines[1::2], actor=world.admins["GZ"], method="original_route")
        session.commit()
        finance_id = world.finance.id
    with Session(engine) as session:
        finance = actor(session, finance_id)
        with Counter(engine) as c:
            result = fin.batch_refund(session, select(Refund.id), actor=finance)
            session.commit()
        started = time.perf_counter()
        summary = write_bank_batch(session, io.BytesIO(), batch=result.batch, actor=finance)
        file_seconds = time.perf_counter() - started
    assert len(result.done) == n and summary.rows == -(-n // 2), (len(result.done), summary.rows)
    return {"what": "batch_refund", "rows": n, "seconds": c.seconds, "statements": len(c.statements),
            "extra": f"bank file {summary.rows:,} rows in {file_seconds:.2f} s"}


def submit_and_verify(session, world, order) -> None:
    """Pay an order by a verified transfer voucher (so its refunds may go to a bank account)."""
    fin.submit_voucher(session, order.id, actor=world.secretariat, voucher="voucher/" + "ab" * 16 + ".png",
                       amount=order.total_amount, payer_kind="organization", payer_name="汇款单位")
    fin.verify_payments(session, select(models.Payment.id).where(models.Payment.order_id == order.id),
                        actor=world.finance)


def run(db: str, persons: list[int], refunds: list[int]) -> list[dict]:
    with scratch_engine(db) as engine:
        out = [dict(measure_orders(engine, n), db=db) for n in persons]
        out += [dict(measure_batch_refund(engine, n), db=db) for n in refunds]
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=50_000, help="persons put on orders (default 50,000)")
    parser.add_argument("--refunds", type=int, default=10_000, help="refunds in one batch (default 10,000)")
    parser.add_argument("--db", choices=DATABASES, default="postgresql")
    args = parser.parse_args(argv)
    dbs = databases(args.db)
    persons = sorted({min(1_000, args.persons), args.persons})
    refunds = sorted({min(100, args.refunds), args.refunds})

    print(f"{'database':<11} {'operation':<14} {'rows':>7} {'seconds':>8} {'rows/s':>9} {'statements':>10}")
    results = []
    for db in dbs:
        for r in run(db, persons, refunds):
            results.append(r)
            print(f"{r['db']:<11} {r['what']:<14} {r['rows']:>7,} {r['seconds']:>8.3f} "
                  f"{r['rows'] / r['seconds']:>9,.0f} {r['statements']:>10}  {r.get('extra', '')}", flush=True)
    flat = True
    for db in dbs:
        for what in ("create_orders", "batch_refund"):
            counts = {r["rows"]: r["statements"] for r in results if r["db"] == db and r["what"] == what}
            flat &= statement_growth(f"{db} {what}", counts)
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
