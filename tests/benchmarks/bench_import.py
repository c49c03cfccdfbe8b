"""Benchmark: a batch-registration import of N persons (with validation), on PostgreSQL (and/or SQLite).

    python tests/benchmarks/bench_import.py [--persons 100000] [--per-org 100] [--db postgresql|sqlite|both]

Builds an xlsx of N/per-org organisations and N persons (valid USCCs and resident IDs, Faker zh_CN names;
not timed), then times importers.run_import end to end: reading (pandas + calamine), validating every row,
the set-based inserts with their audit entries, and the commit. Prints the time of each stage, the
statement count and rows/s. The goal for 100,000 persons on PostgreSQL is 6 s or less. Not collected by
pytest. PostgreSQL: a scratch database on TEST_DATABASE_URL's server, dropped at the end.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]  # the project, and tests/ for factories

import xlsxwriter  # noqa: E402
from faker import Faker  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.orm import Session, joinedload  # noqa: E402
from stdnum.cn import ric  # noqa: E402

from common import DATABASES, databases, scratch_engine  # noqa: E402
from factories import make_uscc, make_world, truncate_all  # noqa: E402
from importer_files import ORG_HEADER, PERSON_HEADER  # noqa: E402
from importers import Progress, run_import  # noqa: E402
from models import AuditEntry, Person, User  # noqa: E402

COUNTIES = ("110105", "310104", "440106", "440305", "330106")  # codes stdnum knows for every birth year used


def resident_id(i: int) -> str:
    """The i-th of distinct valid resident IDs: birth dates 1960-1999, then a serial number."""
    birth = date(1960, 1, 1) + timedelta(days=i % 14_000)
    body = f"{COUNTIES[(i // 14_000) % len(COUNTIES)]}{birth:%Y%m%d}{(i // 70_000) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def workbook(n: int, per_org: int, sub_name: str) -> bytes:
    """An xlsx with the 单位 and 人员 sheets for n persons, written as text like the template asks."""
    fake = Faker("zh_CN")
    Faker.seed(2025)
    names = [fake.name() for _ in range(min(n, 5_000))]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True})
    orgs, persons = book.add_worksheet("单位"), book.add_worksheet("人员")
    orgs.write_row(0, 0, ORG_HEADER)
    usccs = [make_uscc(10_000_000 + k) for k in range(max(1, -(-n // per_org)))]
    for k, uscc in enumerate(usccs, 1):
        orgs.write_row(k, 0, [f"基准测试采购单位{k}有限公司", uscc, "企业", sub_name, "张三", f"138{k:08d}",
                              f"org{k}@example.cn", "食品及农产品"])
    persons.write_row(0, 0, PERSON_HEADER)
    for i in range(n):
        persons.write_row(i + 1, 0, [usccs[i // per_org], names[i % len(names)], "", "中国大陆地区", "居民身份证",
                                     resident_id(i), "", f"139{i:08d}", "", "采购经理", "专业观众",
                                     "2025-11-05,2025-11-06", "快递"])
    book.close()
    return out.getvalue()


class Stages(Progress):
    """Records when each stage of the import began."""

    def __init__(self):
        self.marks = [("read", time.perf_counter())]

    def stage(self, label, total):
        self.marks.append((label[1], time.perf_counter()))

    def lines(self, end: float) -> str:
        spans = [(name, (self.marks[i + 1][1] if i + 1 < len(self.marks) else end) - at)
                 for i, (name, at) in enumerate(self.marks)]
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in spans)


def measure(engine, n: int, per_org: int) -> dict:
    truncate_all(engine)
    with Session(engine) as session:
        world = make_world(session, codes=("GZ",), vip_quota=10_000, staff_quota=10_000)
        sub_name, admin_id = world.subs["GZ"].name, world.admins["GZ"].id
        session.commit()
    data = workbook(n, per_org, sub_name)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(1))
    with Session(engine) as session:
        admin = session.get(User, admin_id, options=[joinedload(User.sub_delegations)])
        backend = server_cpu(session)
        stages = Stages()
        started, cpu = time.perf_counter(), time.process_time()
        result = run_import(session, "registration", data, "bench.xlsx", actor=admin, progress=stages)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        backend = server_cpu(session) - backend
        breakdown = stages.lines(time.perf_counter())
        assert result.ok, result.summary()[:5] + [p.text("zh") for p in result.problems[:5]]
        persons = session.scalar(select(func.count()).select_from(Person))
        audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "person"))
    assert persons == n and audited == n, (persons, audited)
    return {"rows": n, "seconds": seconds, "statements": len(statements), "bytes": len(data), "stages": breakdown,
            "cpu": cpu, "server_cpu": backend}


def server_cpu(session) -> float:
    """CPU seconds the database server process of this session has used (PostgreSQL on this machine; 0 elsewhere).

    With other work on the machine the wall-clock time says little; the CPU time of both sides is what the
    import itself costs.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0.0
    pid = session.scalar(select(func.pg_backend_pid()))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run(db: str, sizes: list[int], per_org: int) -> list[dict]:
    with scratch_engine(db) as engine:
        return [dict(measure(engine, n, per_org), db=db) for n in sizes]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000, help="persons in the file (default 100,000)")
    parser.add_argument("--per-org", type=int, default=100, help="persons per organisation (default 100)")
    parser.add_argument("--db", choices=DATABASES, default="postgresql")
    args = parser.parse_args(argv)
    dbs = databases(args.db)
    sizes = sorted({min(1_000, args.persons), args.persons})
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'database':<11} {'persons':>8} {'seconds':>8} {'cpu app+db':>11} {'rows/s':>9} {'statements':>10}  stages")
    for db in dbs:
        for r in run(db, sizes, args.per_org):
            cpu = f"{r['cpu']:.1f}+{r['server_cpu']:.1f}"
            print(f"{r['db']:<11} {r['rows']:>8,} {r['seconds']:>8.2f} {cpu:>11} {r['rows'] / r['seconds']:>9,.0f} "
                  f"{r['statements']:>10}  {r['stages']} (file {r['bytes'] / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
