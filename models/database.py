"""Connection settings that every engine of the project shares.

SQLite transactions. pysqlite's legacy transaction handling sends no BEGIN before a SELECT, so the
check of a decision (state, guards, quotas, budget) ran in autocommit and its change in a later
transaction: two admins could both pass the check and both apply it. We therefore switch pysqlite's
handling off and send the BEGIN ourselves (SQLAlchemy's documented recipe for pysqlite), as
`BEGIN IMMEDIATE`: a transaction takes SQLite's single write lock before it reads anything, so the
check and the change are one decision and concurrent writers queue (busy_timeout) instead of racing.

Long read-only work (a streaming export) should not hold the write lock: ask for a deferred BEGIN on
its connection or session, e.g.

    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn: ...
    Session(engine, execution_options={"sqlite_begin": "DEFERRED"})

It then reads one consistent snapshot (WAL) while writers go on; it must not write.

`sqlite_begin="LEGACY"` gives back pysqlite's own handling (BEGIN only before INSERT/UPDATE/DELETE,
reads outside any transaction, always seeing the latest commit). It is the behaviour that let
decisions be applied twice: it is for the test fixture that reads between the app's requests, never
for code that decides anything.
"""
import sqlite3

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

# How SQLite transactions begin unless a connection says otherwise (execution option `sqlite_begin`).
# Set "DEFERRED" or "LEGACY" here to see what happens without the lock taken up front.
SQLITE_BEGIN = "IMMEDIATE"
SQLITE_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE", "LEGACY")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite enforces foreign keys only when asked; WAL lets readers work beside the single writer."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        # No BEGIN from pysqlite: _sqlite_begin below sends it, before the first statement of any kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Connection) -> None:
    """Open the SQLite transaction SQLAlchemy is beginning: IMMEDIATE unless the connection asks otherwise."""
    dbapi_connection = conn.connection.driver_connection
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    options = conn.get_execution_options()
    mode = "AUTOCOMMIT" if options.get("isolation_level") == "AUTOCOMMIT" else sqlite_begin_mode(options)
    # The driver's mode is set per transaction, as a pooled connection may have served a LEGACY one before.
    dbapi_connection.isolation_level = "" if mode == "LEGACY" else None
    if mode in ("AUTOCOMMIT", "LEGACY"):
        return
    statement = f"BEGIN {mode}"
    try:
        # Sent on the driver connection, like the BEGIN pysqlite and psycopg send by themselves, so
        # statement counts (before_cursor_execute) stay the same on both backends.
        dbapi_connection.execute(statement)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def sqlite_begin_mode(options) -> str:
    """The BEGIN mode for a connection's execution options (`sqlite_begin`), else the module default."""
    mode = str(options.get("sqlite_begin") or SQLITE_BEGIN).upper()
    if mode not in SQLITE_BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be one of {', '.join(SQLITE_BEGIN_MODES)}, not {mode!r}")
    return mode
