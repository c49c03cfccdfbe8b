"""Maintained counts: persons and organisations per sub-delegation and state, kept by the database itself.

The dashboard, the quota figures above the person list and the quota-dashboard workbook read these few
rows instead of a GROUP BY over a million persons. Triggers keep them in step in the same transaction as
every change, whatever writes it (an operation, a batch import, the scale seed): on PostgreSQL one
statement-level trigger per event, which adds up the statement's transition table (a transition over
50,000 persons touches a handful of tally rows, in key order, so two transactions never deadlock on them);
on SQLite a row-level trigger. Tallies are never written by the application.

    person_tally:       (sub_delegation_id, state, label, copay, org_deleted) -> n, copay_amount
    organization_tally: (sub_delegation_id, state, deleted) -> n

`org_deleted` follows the organisation's soft deletion: deleting or restoring an organisation moves its
persons' counts between false and true.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, DDL, Integer, Numeric, String, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class PersonTally(Base):
    """How many persons of a sub-delegation are in a state, label and co-payment decision, and their co-payment."""

    __tablename__ = "person_tally"

    sub_delegation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(30), primary_key=True)
    label: Mapped[str] = mapped_column(String(20), primary_key=True)
    copay: Mapped[str] = mapped_column(String(20), primary_key=True)
    org_deleted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    copay_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal(0))


class OrganizationTally(Base):
    """How many organisations of a sub-delegation are in a state, deleted or not."""

    __tablename__ = "organization_tally"

    sub_delegation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(30), primary_key=True)
    deleted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


PERSON_KEY = "sub_delegation_id, state, label, copay, org_deleted"
ORG_KEY = "sub_delegation_id, state, deleted"
PERSON_UPSERT = (f"ON CONFLICT ({PERSON_KEY}) DO UPDATE SET n = person_tally.n + excluded.n, "
                 "copay_amount = person_tally.copay_amount + excluded.copay_amount")
ORG_UPSERT = f"ON CONFLICT ({ORG_KEY}) DO UPDATE SET n = organization_tally.n + excluded.n"


def _add_persons(source: str, alias: str, deleted: str, sign: str, grouped: bool = True) -> str:
    """INSERT … SELECT adding (sign "") or taking away ("-") the persons of `source` (named `alias`) to their tallies;
    `grouped` adds them up per key first (a statement's rows), otherwise one row (SQLite's row triggers)."""
    n, amount = ((f"{sign}count(*)", f"{sign}sum({alias}.copay_amount)") if grouped
                 else (f"{sign}1", f"{sign}{alias}.copay_amount"))
    group = " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5" if grouped else ""
    return (f"INSERT INTO person_tally ({PERSON_KEY}, n, copay_amount) SELECT {alias}.sub_delegation_id, "
            f"{alias}.state, {alias}.label, {alias}.copay, {deleted}, {n}, {amount} FROM {source}{group} "
            f"{PERSON_UPSERT}")


def _person_rows(rows: str, sign: str) -> str:
    """The persons of a transition table, under their organisation's deletion flag."""
    return _add_persons(f"{rows} r JOIN organization o ON o.id = r.organization_id", "r", "o.deleted_at IS NOT NULL",
                        sign)


def _org_rows(rows: str, sign: str) -> str:
    return (f"INSERT INTO organization_tally ({ORG_KEY}, n) SELECT sub_delegation_id, state, deleted_at IS NOT NULL, "
            f"{sign}count(*) FROM {rows} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 {ORG_UPSERT}")


def _moved_persons(sign: str, flag: str) -> str:
    """The persons of organisations deleted or restored by the statement, under their old or new flag."""
    return _add_persons("old_rows ot JOIN new_rows nt ON nt.id = ot.id JOIN person p ON p.organization_id = ot.id "
                        "WHERE (ot.deleted_at IS NULL) <> (nt.deleted_at IS NULL)", "p", f"{flag}.deleted_at IS NOT NULL",
                        sign)


def _plpgsql(name: str, body: str) -> str:
    return f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"


POSTGRESQL = (
    _plpgsql("person_tally_insert", _person_rows("new_rows", "") + ";"),
    _plpgsql("person_tally_delete", _person_rows("old_rows", "-") + ";"),
    _plpgsql("person_tally_update", _person_rows("old_rows", "-") + "; " + _person_rows("new_rows", "") + ";"),
    _plpgsql("organization_tally_insert", _org_rows("new_rows", "") + ";"),
    _plpgsql("organization_tally_delete", _org_rows("old_rows", "-") + ";"),
    _plpgsql("organization_tally_update", _org_rows("old_rows", "-") + "; " + _org_rows("new_rows", "") + "; "
             + _moved_persons("-", "ot") + "; " + _moved_persons("", "nt") + ";"),
    *(f"CREATE TRIGGER {table}_tally_{event} AFTER {event.upper()} ON {table} "
      f"REFERENCING {'NEW TABLE AS new_rows' if event == 'insert' else 'OLD TABLE AS old_rows' if event == 'delete' else 'OLD TABLE AS old_rows NEW TABLE AS new_rows'} "
      f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_tally_{event}()"
      for table in ("person", "organization") for event in ("insert", "delete", "update")),
)
POSTGRESQL_DROP = tuple(f"DROP FUNCTION IF EXISTS {table}_tally_{event}() CASCADE"
                        for table in ("person", "organization") for event in ("insert", "delete", "update"))


def _sqlite_person(row: str, sign: str) -> str:
    return _add_persons(f"organization o WHERE o.id = {row}.organization_id", row, "o.deleted_at IS NOT NULL", sign,
                        grouped=False) + ";"


def _sqlite_org(row: str, sign: str) -> str:
    return (f"INSERT INTO organization_tally ({ORG_KEY}, n) VALUES ({row}.sub_delegation_id, {row}.state, "
            f"{row}.deleted_at IS NOT NULL, {sign}1) {ORG_UPSERT};")


def _sqlite_moved(sign: str, row: str) -> str:
    return _add_persons(f"person p WHERE p.organization_id = {row}.id", "p", f"{row}.deleted_at IS NOT NULL", sign) + ";"


SQLITE = (
    f"CREATE TRIGGER person_tally_insert AFTER INSERT ON person BEGIN {_sqlite_person('NEW', '')} END",
    f"CREATE TRIGGER person_tally_delete AFTER DELETE ON person BEGIN {_sqlite_person('OLD', '-')} END",
    "CREATE TRIGGER person_tally_update AFTER UPDATE OF sub_delegation_id, state, label, copay, copay_amount, "
    f"organization_id ON person BEGIN {_sqlite_person('OLD', '-')} {_sqlite_person('NEW', '')} END",
    f"CREATE TRIGGER organization_tally_insert AFTER INSERT ON organization BEGIN {_sqlite_org('NEW', '')} END",
    f"CREATE TRIGGER organization_tally_delete AFTER DELETE ON organization BEGIN {_sqlite_org('OLD', '-')} END",
    "CREATE TRIGGER organization_tally_update AFTER UPDATE OF sub_delegation_id, state, deleted_at ON organization "
    f"BEGIN {_sqlite_org('OLD', '-')} {_sqlite_org('NEW', '')} END",
    # The persons move between deleted and not only when the flag flips. (SQLite's UPSERT after a SELECT
    # needs the SELECT's WHERE to parse, which each of these has.)
    "CREATE TRIGGER organization_tally_moved AFTER UPDATE OF deleted_at ON organization "
    "WHEN (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) BEGIN "
    + _sqlite_moved("-", "OLD") + " " + _sqlite_moved("", "NEW") + " END",
)
SQLITE_DROP = tuple(f"DROP TRIGGER IF EXISTS {name}" for name in (
    "person_tally_insert", "person_tally_delete", "person_tally_update", "organization_tally_insert",
    "organization_tally_delete", "organization_tally_update", "organization_tally_moved"))

# What the tallies hold for rows that exist already (the migration fills them with it).
BACKFILL = (
    f"INSERT INTO person_tally ({PERSON_KEY}, n, copay_amount) SELECT p.sub_delegation_id, p.state, p.label, p.copay, "
    "o.deleted_at IS NOT NULL, count(*), sum(p.copay_amount) FROM person p JOIN organization o "
    "ON o.id = p.organization_id GROUP BY 1, 2, 3, 4, 5",
    f"INSERT INTO organization_tally ({ORG_KEY}, n) SELECT sub_delegation_id, state, deleted_at IS NOT NULL, count(*) "
    "FROM organization GROUP BY 1, 2, 3",
)

for _statement in POSTGRESQL:
    event.listen(Base.metadata, "after_create", DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"))
for _statement in SQLITE:
    event.listen(Base.metadata, "after_create", DDL(_statement.replace("%", "%%")).execute_if(dialect="sqlite"))
