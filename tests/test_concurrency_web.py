"""The races of test_concurrency.py between web requests: two admins post the same action at the same moment.

The app is built as in production (its own engine, BEGIN IMMEDIATE on SQLite); two logged-in test
clients post the transition from two threads, released together by a barrier, as the threaded demo
server would run them.
"""
from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select

from admin_app import create_app
from admin_app.extensions import db
from factories import PASSWORD
from models import AuditEntry, User
from test_concurrency import copay_facts, setup, vip_facts

ROUNDS = 3


@pytest.fixture(scope="module")
def app(database_url, engine, tmp_path_factory):
    """An app on the test database; the schema comes from the `engine` fixture."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                      "REPORTS_DIR": str(tmp_path_factory.mktemp("reports"))})
    yield app
    with app.app_context():
        db.engine.dispose()


def logged_in(app, session, user_id):
    client = app.test_client()
    username = session.scalar(select(User.username).where(User.id == user_id))
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text[:500]
    return client


def post_together(*posts):
    """Run each (client, url, data) POST in its own thread, released together; the responses."""
    barrier = threading.Barrier(len(posts))
    responses, errors = [None] * len(posts), []

    def worker(i, client, url, data):
        try:
            barrier.wait(timeout=30)
            responses[i] = client.post(url, data=data)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, *post)) for i, post in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request is stuck"
    if errors:
        raise errors[0]
    for response in responses:  # the result page of the action, not an error flashed on the form
        assert response.status_code == 200 and "alert-danger" not in response.text, response.text[:2000]
        assert "alert-success" in response.text or "alert-warning" in response.text, response.text[:2000]
    return responses


def action_url(name, ids):
    return f"/admin/person/transition/{name}/?ids={','.join(map(str, ids))}"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_confirm_copay_posted_twice_at_once_decides_each_person_once(app, session, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, budget="3000.00")  # 15 of 40 fees
    first, second = logged_in(app, session, admin), logged_in(app, session, second_admin)
    batches = (ids[:25], ids[15:]) if round_ % 2 else (ids, ids)

    post_together((first, action_url("confirm_copay", batches[0]), {}),
                  (second, action_url("confirm_copay", batches[1]), {}))

    session.expire_all()
    entries, confirmed, used, budget = copay_facts(session, sub_id)
    assert entries == Counter({pid: 1 for pid in confirmed}), "a co-payment was decided twice"
    assert used == budget == Decimal("3000.00") and len(confirmed) == 15  # used up, never overdrawn


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_set_label_vip_posted_twice_at_once_never_exceeds_the_quota(app, session, round_):
    sub_id, ids, admin, second_admin, _ = setup(session, vip_quota=4)
    first, second = logged_in(app, session, admin), logged_in(app, session, second_admin)
    batches = (ids[:25], ids[15:]) if round_ % 2 else (ids[::2], ids[1::2])

    post_together((first, action_url("set_label", batches[0]), {"label": "vip"}),
                  (second, action_url("set_label", batches[1]), {"label": "vip"}))

    session.expire_all()
    assert sum(vip_facts(session, sub_id).values()) == 4  # the quota is used up, never exceeded
    entries = Counter(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "person.label_set")))
    assert set(entries.values()) == {1}, "a person labelled once has one audit entry"
