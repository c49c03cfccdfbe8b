"""Benchmark: every sub-delegation workbook for N persons on PostgreSQL, in worker processes.

    python tests/benchmarks/bench_export.py [--persons 1000000] [--processes 2] [--keep] [--url URL]

Builds the data set-based (INSERT ... SELECT generate_series, not timed): the 26 sub-delegations of the
recruitment table, organisations in proportion to their targets (PER_ORG persons each, labels and states
mixed), an order for a third of them with a paid line per person, a few refunds and deal intentions.
Then runs `export sub-delegation --all` as the secretariat and prints the elapsed time, rows written, the
peak resident memory of each process, and the CPU seconds of the workers and of their PostgreSQL backends
(read from /proc while they run: on a machine others share, CPU seconds / cores is what an idle machine
would take, where the wall clock is not). Goal (issue 10): 1,000,000 persons in <= 40 s on 2 cores, <= 150 MB
per process. Not collected by pytest, never asserted on time. A scratch database on TEST_DATABASE_URL's
server, dropped at the end unless --keep (then --url reuses it without building again).
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]  # the project, and tests/ for factories

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import models  # noqa: E402
from factories import create_scratch_database, drop_scratch_database, make_engine, make_user  # noqa: E402
from models import Role, User  # noqa: E402
from reports.parallel import peak_rss_mb, write_all_sub_delegations  # noqa: E402

PER_ORG = 20
TARGETS = HERE.parents[2] / "models" / "delegation" / "data" / "recruitment_targets.csv"
PERSON_STATES = ("saved", "pending_confirmation", "pending_payment", "pending_review", "approved", "badge_produced",
                 "badge_issued", "review_failed", "cancelled")


def build(engine, persons: int) -> int:
    """The delegation, its sub-delegations, organisations, persons, orders and the rest; the secretariat's id."""
    with open(TARGETS, encoding="utf-8") as fh:
        tree = [row for row in csv.DictReader(fh)]
    targets = [int(row["组织采购商（家数）"]) for row in tree]
    orgs_total = max(len(tree), persons // PER_ORG)
    with Session(engine) as session:
        session.execute(text("INSERT INTO expo_edition (number, name, start_date, end_date, entry_days, fee_per_label,"
                             " reuse_fee_percent, is_current) VALUES (8, '第八届中国国际进口博览会', '2025-11-05',"
                             " '2025-11-10', '11-05,11-06,11-07', 200, 50, true)"))
        session.execute(text("INSERT INTO delegation (code, name) VALUES ('GD', '广东交易团')"))
        for seq, (row, target) in enumerate(zip(tree, targets), start=1):
            session.execute(text(
                "INSERT INTO sub_delegation (delegation_id, seq, code, name, kind, recruitment_target, vip_quota,"
                " staff_quota, copay_budget) VALUES (1, :seq, :code, :name, :kind, :target, :vip, :staff, 100000)"),
                {"seq": seq, "code": row["code"], "name": row["成员单位"], "kind": row["kind"], "target": target,
                 "vip": target * 2, "staff": target * 4})
        # Organisations in proportion to the targets: the largest sub-delegations hold the most persons.
        weights = sum(targets)
        first = 1
        for seq, target in enumerate(targets, start=1):
            count = max(1, round(orgs_total * target / weights))
            session.execute(text(
                "INSERT INTO organization (edition_id, sub_delegation_id, name, uscc, uscc_recognised, category,"
                " contact_name, contact_mobile, contact_email, purchase_intentions, region, industry, vip_quota,"
                " staff_quota, prior_edition, state, submitted_at, created_at, updated_at)"
                " SELECT 1, :sub, '采购单位' || g || '有限公司', '91440100' || lpad(g::text, 10, '0'), false,"
                " 'enterprise', '联系人' || g, '139' || lpad((g % 100000000)::text, 8, '0'), 'org' || g || '@example.cn',"
                " '进口食品及农产品，预计金额约100万美元', '广东省', '食品及农产品', 2, 4, g % 3 = 0,"
                " (ARRAY['approved','approved','submitted','first_approved','returned','draft'])[1 + g % 6],"
                " now() - (g % 60) * interval '1 day', now(), now()"
                " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g"),
                {"sub": seq, "first": first, "last": first + count - 1})
            first += count
        session.execute(text(
            "INSERT INTO person (edition_id, organization_id, sub_delegation_id, name, gender, region_type, id_type,"
            " id_number, birth_date, mobile, email, position, entry_days, pickup, label, is_reuse, badge_number,"
            " state, copay, copay_amount, created_at, updated_at)"
            " SELECT 1, o.id, o.sub_delegation_id, '参观人员' || o.id || '-' || g,"
            " CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END, 'mainland', 'resident_id',"
            " '440106' || lpad((o.id * 100 + g)::text, 12, '0'), date '1960-01-01' + ((o.id * 7 + g) % 16000),"
            " '138' || lpad(((o.id * 100 + g) % 100000000)::text, 8, '0'), 'p' || o.id || '-' || g || '@example.cn',"
            " '采购经理', '2025-11-05,2025-11-06', 'express',"
            " CASE WHEN g = 1 THEN 'vip' WHEN g = 2 THEN 'staff' ELSE 'professional' END, g % 5 = 0,"
            " CASE WHEN g % 4 = 0 THEN 'E1-' || o.id || '-' || g END,"
            " (ARRAY[" + ",".join(f"'{s}'" for s in PERSON_STATES) + "])[1 + (o.id + g) % 9],"
            " 'undecided', 0, now(), now()"
            " FROM organization o CROSS JOIN generate_series(1, CAST(:per_org AS integer)) AS g"
            " WHERE o.id * :per_org + g <= :limit + :per_org"), {"per_org": PER_ORG, "limit": persons})
        # An order for every third organisation, one line per person, paid by QR for two of three orders.
        session.execute(text(
            "INSERT INTO badge_order (number, edition_id, organization_id, sub_delegation_id, state, payment_method,"
            " total_amount, paid_at, created_at, updated_at)"
            " SELECT 'V2025' || lpad(o.id::text, 10, '0'), 1, o.id, o.sub_delegation_id,"
            " CASE WHEN o.id % 2 = 0 THEN 'paid' ELSE 'unpaid' END, 'qr_alipay',"
            " 200 * (SELECT count(*) FROM person p WHERE p.organization_id = o.id),"
            " CASE WHEN o.id % 2 = 0 THEN now() END, now(), now() FROM organization o WHERE o.id % 3 = 0"))
        session.execute(text(
            "INSERT INTO order_line (order_id, person_id, label, is_reuse, fee, is_open)"
            " SELECT b.id, p.id, p.label, false, 200, true FROM badge_order b JOIN person p"
            " ON p.organization_id = b.organization_id"))
        session.execute(text(
            "INSERT INTO payment (order_id, method, amount, reference, paid_at, state, created_at)"
            " SELECT id, 'qr_alipay', total_amount, 'GW' || id, now(), 'recorded', now() FROM badge_order"
            " WHERE state = 'paid' AND total_amount > 0"))
        session.execute(text(
            "INSERT INTO refund (order_id, order_line_id, amount, paid_amount, method, state, batch, refunded_at,"
            " created_at, updated_at)"
            " SELECT l.order_id, l.id, 200, 200, 'original_route', 'refunded', 'RB1', now(), now(), now()"
            " FROM order_line l JOIN badge_order b ON b.id = l.order_id JOIN person p ON p.id = l.person_id"
            " WHERE b.state = 'paid' AND p.state = 'review_failed'"))
        session.execute(text(
            "INSERT INTO deal_intention (organization_id, sub_delegation_id, exhibitor, amount, currency, created_at)"
            " SELECT id, sub_delegation_id, '展商' || id, 10000 + id, 'USD', now() FROM organization WHERE id % 5 = 0"))
        session.commit()
        secretariat = make_user(session, Role.SECRETARIAT, username="bench-secretariat")
        session.commit()
        user_id = secretariat.id
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return user_id


class ServerCpu(threading.Thread):
    """CPU seconds of the PostgreSQL backends serving one database, sampled from /proc while they live."""

    def __init__(self, engine):
        super().__init__(daemon=True)
        self.engine, self.seen, self.stopped = engine, {}, threading.Event()
        self.ticks = os.sysconf("SC_CLK_TCK")

    def run(self):
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            me = conn.scalar(text("SELECT pg_backend_pid()"))
            while not self.stopped.wait(0.2):
                pids = conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND pid <> :me"), {"me": me}).all()
                for pid in pids:
                    try:
                        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime

    def seconds(self) -> float:
        self.stopped.set()
        self.join()
        return sum(self.seen.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--url", help="a database this script built before with --keep: skip the build")
    args = parser.parse_args()

    url = args.url or create_scratch_database(prefix="dd_bench_export")
    engine = make_engine(url)
    folder = tempfile.mkdtemp(prefix="dd-bench-export-")
    try:
        if not args.url:
            started = time.perf_counter()
            models.Base.metadata.create_all(engine)
            build(engine, args.persons)
            print(f"built {args.persons:,} persons in {time.perf_counter() - started:.1f} s (not part of the timing)")
        with Session(engine) as session:
            actor = session.scalar(select(User).where(User.username == "bench-secretariat"))
            persons = session.scalar(text("SELECT count(*) FROM person"))
            session.expunge(actor)
        server = ServerCpu(engine)
        server.start()
        started = time.perf_counter()
        result = write_all_sub_delegations(engine, folder, actor=actor, processes=args.processes)
        seconds = time.perf_counter() - started
        server_cpu = server.seconds()
        worker_cpu = sum(d.cpu_seconds for d in result.done)

        by_process = defaultdict(list)
        for done in result.done:
            by_process[done.pid].append(done)
        rows = sum(sum(d.sheets.values()) for d in result.done)
        size = sum(os.path.getsize(p) for p in result.paths)
        print(f"export sub-delegation --all: {len(result.done)} workbooks, {persons:,} persons, {rows:,} rows, "
              f"{size / 1e6:.0f} MB of xlsx, {seconds:.1f} s with {args.processes} processes")
        for pid, done in sorted(by_process.items()):
            print(f"  process {pid}: {len(done)} workbooks, {sum(d.seconds for d in done):.1f} s busy, "
                  f"{sum(d.cpu_seconds for d in done):.1f} s CPU, "
                  f"peak memory {max(d.peak_rss_mb for d in done):.0f} MB")
        cores = min(args.processes, os.cpu_count() or 1)
        total = worker_cpu + server_cpu
        print(f"  CPU: workers {worker_cpu:.1f} s + PostgreSQL {server_cpu:.1f} s = {total:.1f} s, "
              f"{total / cores:.1f} s on {cores} idle cores "
              f"(load average now {os.getloadavg()[0]:.1f})")
        print(f"  main process: peak memory {peak_rss_mb():.0f} MB")
        slowest = max(result.done, key=lambda d: d.seconds)
        print(f"  largest workbook: {os.path.basename(slowest.path)}, {sum(slowest.sheets.values()):,} rows, "
              f"{slowest.seconds:.1f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        engine.dispose()
        if args.keep:
            print(f"kept: {url}")
        elif not args.url:
            drop_scratch_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
