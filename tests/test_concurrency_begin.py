"""How SQLite transactions begin (models/database.py): the write lock first, unless a connection asks otherwise."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select, text

from models import SubDelegation


@pytest.fixture(autouse=True)
def sqlite_only(backend):
    if backend != "sqlite":
        pytest.skip("SQLite's BEGIN modes")


def other_writer_can_begin(engine) -> bool:
    """Whether another connection gets the write lock right now (no waiting)."""
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_a_transaction_holds_the_write_lock_from_its_first_read(engine):
    with engine.connect() as connection:
        assert other_writer_can_begin(engine)
        connection.execute(select(SubDelegation.id))  # a read, as a decision's check starts
        assert not other_writer_can_begin(engine)
        connection.rollback()
        assert other_writer_can_begin(engine)


def test_a_deferred_transaction_reads_without_the_write_lock(engine):
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
        connection.execute(select(SubDelegation.id))
        assert connection.connection.driver_connection.in_transaction  # one snapshot for the whole read
        assert other_writer_can_begin(engine)


def test_a_connection_goes_back_to_immediate_after_a_legacy_transaction(engine):
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="LEGACY")
        connection.execute(select(SubDelegation.id))
        assert not connection.connection.driver_connection.in_transaction  # legacy reads: no transaction
        connection.rollback()
        connection.execution_options(sqlite_begin="IMMEDIATE")
        connection.execute(select(SubDelegation.id))
        assert not other_writer_can_begin(engine)


def test_an_unknown_begin_mode_is_refused(engine):
    with engine.connect().execution_options(sqlite_begin="EVENTUALLY") as connection:
        with pytest.raises(ValueError, match="sqlite_begin"):
            connection.execute(text("SELECT 1"))
