"""Benchmark: confirm co-payment for N persons as a sub-delegation admin, on SQLite and/or PostgreSQL.

    python tests/benchmarks/bench_confirm_copay.py [--rows 50000] [--db sqlite|postgresql|both] [--show-sql]

For 1,000 rows and for --rows rows it bulk-inserts that many persons pending confirmation (budget large
enough for all), runs models.operations.ops.confirm_copay on all of them, commits, and prints the
elapsed time and the number of SQL statements the operation executed (counted with a
before_cursor_execute listener). The set-based engine needs the same handful of statements whatever
the row count. Not collected by pytest (the file name does not match test_*.py).

PostgreSQL: a scratch database is created on TEST_DATABASE_URL's server (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped at the end.
"""
from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]  # the project, and tests/ for factories

from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.orm import Session, joinedload  # noqa: E402

from common import DATABASES, databases, scratch_engine, statement_growth  # noqa: E402
from factories import bulk_persons, make_organization, make_world, truncate_all  # noqa: E402
from models import AuditEntry, CopayDecision, OrgState, Person, PersonState, User  # noqa: E402
from models.registration import operations as ops

CHUNK = 10_000


def measure(engine, rows: int, show_sql: bool = False) -> dict:
    truncate_all(engine)
    with Session(engine) as session:
        world = make_world(session, codes=("GZ", "SZ"), copay_budget=Decimal(200 * rows + 1000))
        org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
        ids = []
        build = time.perf_counter()
        while len(ids) < rows:
            ids += bulk_persons(session, org, min(CHUNK, rows - len(ids)), state=PersonState.PENDING_CONFIRMATION)
        session.commit()
        build = time.perf_counter() - build
        admin_id = world.admins["GZ"].id

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with Session(engine) as session:
        # As the login loader does: the user with their sub-delegations, in one statement.
        admin = session.get(User, admin_id, options=[joinedload(User.sub_delegations)])
        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        try:
            result = ops.confirm_copay(session, ids, actor=admin)
            session.commit()
        finally:
            elapsed = time.perf_counter() - started
            event.remove(engine, "before_cursor_execute", count)
        confirmed = session.scalar(select(func.count()).select_from(Person)
                                   .where(Person.copay == CopayDecision.CONFIRMED.value))
        audited = session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "person.copay_confirmed"))
    assert len(result.done) == confirmed == audited == rows, (len(result.done), confirmed, audited, rows)
    if show_sql:
        print("\n".join("    " + " ".join(s.split())[:150] for s in statements))
    return {"rows": rows, "seconds": elapsed, "statements": len(statements), "build": build,
            "kinds": [s.split(None, 1)[0].upper() for s in statements]}


def run(db: str, sizes: list[int], show_sql: bool = False) -> list[dict]:
    with scratch_engine(db) as engine:
        return [dict(measure(engine, n, show_sql), db=db) for n in sizes]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="the large batch (default 50,000)")
    parser.add_argument("--db", choices=DATABASES, default="both")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each run")
    args = parser.parse_args(argv)
    sizes = sorted({min(1_000, args.rows), args.rows})
    dbs = databases(args.db)

    print(f"{'database':<11} {'rows':>7} {'confirm s':>10} {'rows/s':>9} {'statements':>10}  "
          f"{'(insert s)':>10}  statements run")
    results = []
    for db in dbs:
        for r in run(db, sizes, args.show_sql):
            results.append(r)
            print(f"{r['db']:<11} {r['rows']:>7,} {r['seconds']:>10.3f} {r['rows'] / r['seconds']:>9,.0f} "
                  f"{r['statements']:>10}  {r['build']:>10.2f}  {' '.join(r['kinds'])}", flush=True)
    flat = [statement_growth(db, {r["rows"]: r["statements"] for r in results if r["db"] == db}) for db in dbs]
    return 0 if all(flat) else 1


if __name__ == "__main__":
    sys.exit(main())
