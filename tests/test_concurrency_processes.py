"""The races of test_concurrency.py between OS processes: two `flask transition` commands at the same moment.

Each worker is a separate Python process (multiprocessing, spawn) with its own app, engine and connection
pool, configured as in production (BEGIN IMMEDIATE on SQLite); both run the CLI's transition command on
the shared database, released together by a barrier. A co-payment is decided once, the budget and the
VIP quota hold, exactly as between threads.
"""
from __future__ import annotations

import multiprocessing
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select

from admin_app import create_app
from admin_app.extensions import db
from models import AuditEntry, Label, Person, User
from test_concurrency import copay_facts, setup, vip_facts

ROUNDS = 2
WORKERS = 2
EXIT_OK = {0, 3}  # all done / some rows skipped (admin_app.cli)

_barrier = None  # set in each worker by _start_worker
_apps: dict[str, object] = {}


def _start_worker(barrier) -> None:
    """Pool initializer: keep the barrier every task waits on."""
    global _barrier
    _barrier = barrier


def _app_for(url: str, reports_dir: str):
    """One app per database in this worker, its pool already connected (connecting is not part of the race)."""
    if url not in _apps:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test",
                          "REPORTS_DIR": reports_dir, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.engine.connect().close()  # connect only; BEGIN comes with the command's first statement
        _apps[url] = app
    return _apps[url]


def run_cli(url: str, reports_dir: str, args: list[str]) -> tuple[int, str]:
    """In a worker process: wait for the other worker, then run `flask <args>`; (exit code, output)."""
    runner = _app_for(url, reports_dir).test_cli_runner()
    _barrier.wait(timeout=60)
    result = runner.invoke(args=args)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def workers():
    """Two spawned processes sharing a barrier; each task of a race lands on its own worker."""
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(WORKERS, initializer=_start_worker, initargs=(context.Barrier(WORKERS),))
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


@pytest.fixture
def cli_race(workers, database_url, tmp_path):
    """cli_race(args, args) -> [(exit code, done ids, output)] of the two commands run at the same moment."""

    def race(*commands):
        assert len(commands) == WORKERS
        pending = [workers.apply_async(run_cli, (database_url, str(tmp_path), list(args))) for args in commands]
        outcomes = []
        for task in pending:
            code, output = task.get(timeout=120)
            assert code in EXIT_OK, output
            outcomes.append((code, done_ids(output), output))
        return outcomes

    return race


def done_ids(output: str) -> set[int]:
    """Ids the transition command reported done ("<id>\\tdone" lines)."""
    return {int(line.split("\t")[0]) for line in output.splitlines() if line.endswith("\tdone")}


def transition(action: str, username: str, ids, *params: str) -> list[str]:
    args = ["transition", "person", action, "--as", username, "--ids", ",".join(map(str, ids))]
    for param in params:
        args += ["--param", param]
    return args


def usernames(session, *user_ids) -> list[str]:
    return [session.scalar(select(User.username).where(User.id == uid)) for uid in user_ids]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_in_two_processes_decides_each_person_once(session, cli_race, round_):
    sub_id, ids, admin, second_admin, secretariat = setup(session)
    first, second = usernames(session, admin, secretariat if round_ % 2 else second_admin)

    (_, a, _), (_, b, _) = cli_race(transition("confirm_copay", first, ids[:30]),
                                    transition("confirm_copay", second, ids[10:]))

    session.expire_all()
    entries, confirmed, used, budget = copay_facts(session, sub_id)
    assert entries == Counter({pid: 1 for pid in ids}), "a co-payment was decided twice"
    assert confirmed == set(ids) == a | b and a.isdisjoint(b)
    assert used == Decimal("200.00") * len(ids) <= budget


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_in_two_processes_never_exceeds_the_budget(session, cli_race, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, budget="3000.00")  # 15 of 40 fees
    first, second = usernames(session, admin, second_admin)
    batches = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])

    (_, a, out_a), (_, b, out_b) = cli_race(transition("confirm_copay", first, batches[0]),
                                            transition("confirm_copay", second, batches[1]))

    session.expire_all()
    entries, confirmed, used, budget = copay_facts(session, sub_id)
    assert used == budget == Decimal("3000.00") and len(confirmed) == 15  # used up, never overdrawn
    assert entries == Counter({pid: 1 for pid in confirmed})
    assert confirmed == a | b and a.isdisjoint(b)
    assert "统付额度不足" in out_a + out_b


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_set_label_vip_in_two_processes_never_exceeds_the_quota(session, cli_race, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, vip_quota=4)
    first, second = usernames(session, admin, second_admin)
    batches = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])

    (_, a, out_a), (_, b, out_b) = cli_race(transition("set_label", first, batches[0], "label=vip"),
                                            transition("set_label", second, batches[1], "label=vip"))

    session.expire_all()
    assert sum(vip_facts(session, sub_id).values()) == 4  # the quota is used up, never exceeded
    vips = set(session.scalars(select(Person.id).where(Person.label == Label.VIP.value)))
    assert vips == a | b and a.isdisjoint(b)  # a person labelled VIP already is skipped (「已是VIP」), not done again
    entries = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.label_set")))
    assert entries == Counter({pid: 1 for pid in vips}), "a person labelled once has one audit entry"
    assert "VIP额度已用完" in out_a + out_b
