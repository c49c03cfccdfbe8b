"""Shared database fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

Fixtures
    database_url  session scope, params "sqlite" | "postgresql": a SQLite file in a tmp dir, or a scratch
                  PostgreSQL database created on TEST_DATABASE_URL's server (default
                  postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped WITH (FORCE) at the end.
                  PostgreSQL unreachable -> the tests fail loudly, unless SKIP_POSTGRES=1 (then they skip).
    engine        session scope, one per url, schema from models.Base.metadata.create_all
                  (SQLite: foreign keys ON, WAL, busy_timeout).
    backend       "sqlite" | "postgresql".
    session       function scope, sqlalchemy.orm.Session(engine); every table is emptied after the test
                  (TRUNCATE ... RESTART IDENTITY CASCADE / DELETE child-first), so tests may commit.
                  On SQLite it keeps pysqlite's legacy transactions (sqlite_begin="LEGACY", see
                  models/database.py): its reads take no lock and hold no snapshot, so a test may read
                  through `session`, act through the app, the CLI or another connection, and read again.
                  Everything else (the app, the CLI, `engine`, the race tests) runs with the production
                  default, BEGIN IMMEDIATE.
    world         make_world(session): edition, delegation, sub-delegations GZ and SZ, a user of each role.

Marker
    @pytest.mark.postgresql_only   the test is skipped on the sqlite param.

Builders and helpers live in tests/factories.py (import as `factories`).
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import models
from factories import (admin_database_url, create_scratch_database, drop_scratch_database, make_engine, make_world,
                       wipe)

BACKENDS = ("sqlite", "postgresql")


def _skip_postgres() -> bool:
    return os.environ.get("SKIP_POSTGRES", "").strip().lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """postgresql_only tests skip on the sqlite param; SKIP_POSTGRES=1 skips every postgresql param."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        if backend == "sqlite" and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (postgresql_only)"))
        elif backend == "postgresql" and _skip_postgres():
            item.add_marker(pytest.mark.skip(reason="SKIP_POSTGRES=1"))


@pytest.fixture(scope="session", params=BACKENDS, ids=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'delegation_desk.sqlite'}"
        return
    if _skip_postgres():
        pytest.skip("SKIP_POSTGRES=1")
    try:
        url, problem = create_scratch_database(admin_database_url()), None
    except OperationalError as exc:
        url, problem = None, exc.orig
    if problem is not None:
        pytest.fail(f"PostgreSQL is not reachable at {admin_database_url()} ({problem}). Start it "
                    "(pg_ctlcluster --skip-systemctl-redirect <version> main start), set TEST_DATABASE_URL, "
                    "or run with SKIP_POSTGRES=1 to skip the PostgreSQL half of the suite.", pytrace=False)
    try:
        yield url
    finally:
        drop_scratch_database(url, admin_database_url())


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    models.Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def backend(engine) -> str:
    return engine.dialect.name


@pytest.fixture
def session(engine):
    # Test data in, results out: with BEGIN IMMEDIATE a read here would hold the write lock the app then
    # waits for, and with DEFERRED it would keep reading the snapshot from before the app's change.
    session = Session(engine, execution_options={"sqlite_begin": "LEGACY"})
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        wipe(engine)


@pytest.fixture
def world(session):
    return make_world(session)
