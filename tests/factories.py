"""Test data and test databases: small builders for the domain, and the database plumbing the fixtures use.

Builders flush, never commit (like the operations): the caller owns the transaction. Many rows go in
with one multi-row INSERT (`bulk_persons`, `bulk_organizations`).

    world = make_world(session)                      # edition, delegation, sub-delegations GZ and SZ, users
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    person = make_person(session, org, state=PersonState.PENDING_CONFIRMATION)
    ids = bulk_persons(session, org, 1000, state=PersonState.PENDING_CONFIRMATION)
    persons.confirm_copay(session, ids, actor=world.admins["GZ"])
"""
from __future__ import annotations

import itertools
import os
import secrets
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from unittest import mock

from sqlalchemy import create_engine, event, insert, make_url, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

import models
import models.delegation.operations
import models.passwords
from models.audit.tables import SQLITE_APPEND_ONLY, SQLITE_DROP_APPEND_ONLY
from models import (AuditEntry, CopayDecision, Delegation, ExpoEdition, Label, OrgCategory, Organization, OrgState,
                    OutboxMessage, Person, PersonState, Role, SubDelegation, SubDelegationKind, User)
from models.delegation.operations import create_user

PASSWORD = "test-password-1"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------


def make_engine(url: str, **kw) -> Engine:
    """An engine for the application's schema; SQLite gets foreign keys, WAL and a busy timeout."""
    engine = create_engine(url, **kw)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()
    return engine


def admin_database_url() -> str:
    """The PostgreSQL server URL tests create their databases on (TEST_DATABASE_URL)."""
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL


def create_scratch_database(admin_url: str | None = None, prefix: str = "dd_test") -> str:
    """Create a uniquely named PostgreSQL database and return its URL (raises if the server is unreachable)."""
    admin_url = make_url(admin_url or admin_database_url())
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def drop_scratch_database(url: str, admin_url: str | None = None) -> None:
    """Drop a database made by create_scratch_database, even if connections are left open."""
    name = make_url(url).database
    admin = create_engine(make_url(admin_url or admin_database_url()), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def wipe(engine: Engine) -> None:
    """Delete every row of every table and restart the ids, so the next test starts from an empty database.

    PostgreSQL: DELETE child-first and setval() the id sequences, in one transaction. This is what
    TRUNCATE ... RESTART IDENTITY CASCADE does, but for the few rows a test leaves it takes ~5 ms where
    TRUNCATE takes 100-300 ms (it recreates and fsyncs the files of every table and index), which
    doubled the suite's run time. Use truncate_all() after a test that leaves many rows.
    SQLite: DELETE child-first; INTEGER PRIMARY KEY ids restart by themselves on an empty table.
    """
    tables = models.Base.metadata.sorted_tables
    with engine.begin() as conn:
        _lift_audit_append_only(conn)
        for table in reversed(tables):
            conn.execute(table.delete())
        _restore_audit_append_only(conn)
        if engine.dialect.name == "postgresql":
            serial = [(t.name, t.autoincrement_column.name) for t in tables if t.autoincrement_column is not None]
            conn.execute(text("SELECT setval(pg_get_serial_sequence(t, c), 1, false) "
                              "FROM unnest(CAST(:tables AS text[]), CAST(:columns AS text[])) AS s(t, c)"),
                         {"tables": [t for t, _ in serial], "columns": [c for _, c in serial]})


def _lift_audit_append_only(conn) -> None:
    """The audit log refuses DELETE (a trigger): only the test cleanup lifts that, inside its transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # row triggers off, this transaction
    else:
        for statement in SQLITE_DROP_APPEND_ONLY:
            conn.execute(text(statement))


def _restore_audit_append_only(conn) -> None:
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_APPEND_ONLY:
            conn.execute(text(statement))


def truncate_all(engine: Engine) -> None:
    """One TRUNCATE ... RESTART IDENTITY CASCADE of every table (PostgreSQL): for big leftovers (benchmarks)."""
    if engine.dialect.name != "postgresql":
        return wipe(engine)
    tables = models.Base.metadata.sorted_tables
    with engine.begin() as conn:
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@contextmanager
def export_cli(database_url: str, tmp_path):
    """`flask --app admin_app export ...` through click's runner, on the test database: yields run(*args)."""
    from admin_app import create_app
    from admin_app.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "REPORTS_DIR": str(tmp_path / "r"),
                      "UPLOADS_DIR": str(tmp_path / "up")})

    def run(*args):
        return app.test_cli_runner().invoke(args=["export", *args])

    yield run
    with app.app_context():
        db.engine.dispose()


# --------------------------------------------------------------------------------------------------
# Reference data: edition, delegation, sub-delegations, users
# --------------------------------------------------------------------------------------------------

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


@contextmanager
def fast_password_hashing():
    """create_user with a cheap (still valid, still checkable) PBKDF2 hash: scrypt costs 0.1 s a user."""
    with mock.patch.object(models.passwords, "HASH_METHOD", "pbkdf2:sha256:1000"):
        yield


def make_edition(session: Session, **kw) -> ExpoEdition:
    values = dict(number=_next() + 100, name="第八届中国国际进口博览会", start_date=date(2025, 11, 5),
                  end_date=date(2025, 11, 10), entry_days="11-05,11-06,11-07", fee_per_label=Decimal("200.00"),
                  reuse_fee_percent=50, is_current=True)
    values.update(kw)
    edition = ExpoEdition(**values)
    session.add(edition)
    session.flush()
    return edition


def make_delegation(session: Session, **kw) -> Delegation:
    values = dict(code=f"GD{_next()}", name="广东交易团")
    values.update(kw)
    delegation = Delegation(**values)
    session.add(delegation)
    session.flush()
    return delegation


SUB_NAMES = {"GZ": "广州交易分团", "SZ": "深圳交易分团", "FS": "佛山交易分团", "DG": "东莞交易分团"}


def make_sub_delegation(session: Session, delegation: Delegation, code: str, *, vip_quota: int = 100,
                        staff_quota: int = 100, copay_budget: Decimal | int | str = Decimal("1000000"),
                        **kw) -> SubDelegation:
    values = dict(delegation_id=delegation.id, code=code, name=SUB_NAMES.get(code, f"{code}交易分团"),
                  kind=SubDelegationKind.CITY, recruitment_target=100, vip_quota=vip_quota,
                  staff_quota=staff_quota, copay_budget=Decimal(str(copay_budget)))
    values.update(kw)
    sub = SubDelegation(**values)
    session.add(sub)
    session.flush()
    return sub


def make_user(session: Session, role: Role | str, *subs: SubDelegation, username: str | None = None) -> User:
    """A back-office user made by models.delegation.operations.create_user (sub-delegation admins need subs)."""
    role = Role(role)
    with fast_password_hashing():
        return create_user(session, username or f"{role.value}_{_next()}", PASSWORD, role,
                           sub_delegation_codes=[s.code for s in subs])


@dataclass
class World:
    """An edition, a delegation, its sub-delegations, and one user of each role (an admin per sub-delegation)."""

    edition: ExpoEdition
    delegation: Delegation
    subs: dict[str, SubDelegation]
    secretariat: User
    finance: User
    viewer: User
    admins: dict[str, User] = field(default_factory=dict)

    def user(self, role: Role, sub_code: str = "GZ") -> User:
        """A user of this role; sub-delegation admins of the given sub-delegation."""
        return {Role.SECRETARIAT: self.secretariat, Role.FINANCE: self.finance, Role.VIEWER: self.viewer,
                Role.SUB_DELEGATION_ADMIN: self.admins.get(sub_code)}[Role(role)]


def make_world(session: Session, codes=("GZ", "SZ"), **sub_kw) -> World:
    """Reference data most tests start from; quotas and budget default to large values."""
    edition = make_edition(session)
    delegation = make_delegation(session)
    subs = {code: make_sub_delegation(session, delegation, code, **sub_kw) for code in codes}
    return World(edition=edition, delegation=delegation, subs=subs,
                 secretariat=make_user(session, Role.SECRETARIAT),
                 finance=make_user(session, Role.FINANCE),
                 viewer=make_user(session, Role.VIEWER),
                 admins={code: make_user(session, Role.SUB_DELEGATION_ADMIN, sub) for code, sub in subs.items()})


# --------------------------------------------------------------------------------------------------
# Organisations and persons
# --------------------------------------------------------------------------------------------------


def _gb11714_check(code8: str) -> str:
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    c = 11 - sum(int(d) * w for d, w in zip(code8, weights)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def make_uscc(n: int | None = None, region: str = "440100") -> str:
    """A valid USCC (GB 32100) built from a serial number."""
    n = _next() if n is None else n
    code8 = f"{n % 10**8:08d}"
    body = "91" + region + code8 + _gb11714_check(code8)
    return body + stdnum_uscc.calc_check_digit(body)


def organization_values(sub: SubDelegation, edition_id: int, *, state: OrgState = OrgState.DRAFT,
                        deleted: bool = False, **kw) -> dict:
    n = _next()
    values = dict(edition_id=edition_id, sub_delegation_id=sub.id, name=f"测试采购单位{n}有限公司",
                  uscc=make_uscc(n), uscc_recognised=False, category=OrgCategory.SOCIAL_ORGANISATION,
                  contact_name="联系人", contact_mobile=f"139{n % 10**8:08d}", contact_email=f"org{n}@example.cn",
                  purchase_intentions="食品及农产品", vip_quota=100, staff_quota=100, state=OrgState(state),
                  deleted_at=datetime(2025, 9, 1, tzinfo=timezone.utc) if deleted else None)
    values.update(kw)
    return values


def make_organization(session: Session, sub: SubDelegation, *, edition: ExpoEdition | None = None,
                      state: OrgState = OrgState.DRAFT, deleted: bool = False, **kw) -> Organization:
    """One organisation of `sub` in `state` (social organisation, not auto-approved, unless told otherwise)."""
    edition_id = edition.id if edition is not None else _current_edition_id(session)
    org = Organization(**organization_values(sub, edition_id, state=state, deleted=deleted, **kw))
    session.add(org)
    session.flush()
    return org


def bulk_organizations(session: Session, sub: SubDelegation, n: int, *, edition: ExpoEdition | None = None,
                       **kw) -> list[int]:
    """n organisations in one INSERT; returns their ids in order."""
    edition_id = edition.id if edition is not None else _current_edition_id(session)
    rows = [organization_values(sub, edition_id, **kw) for _ in range(n)]
    return list(session.scalars(insert(Organization).returning(Organization.id, sort_by_parameter_order=True), rows))


def person_values(org: Organization, *, state: PersonState = PersonState.SAVED, label: Label = Label.PROFESSIONAL,
                  copay: CopayDecision = CopayDecision.UNDECIDED, **kw) -> dict:
    n = _next()
    values = dict(edition_id=org.edition_id, organization_id=org.id, sub_delegation_id=org.sub_delegation_id,
                  name=f"测试人员{n}", gender="male" if n % 2 else "female", id_type="passport",
                  id_number=f"T{n:011d}", mobile=f"138{n % 10**8:08d}", label=Label(label),
                  state=PersonState(state), copay=CopayDecision(copay), copay_amount=Decimal(0), is_reuse=False)
    values.update(kw)
    return values


def make_person(session: Session, org: Organization, *, state: PersonState = PersonState.SAVED,
                label: Label = Label.PROFESSIONAL, copay: CopayDecision = CopayDecision.UNDECIDED, **kw) -> Person:
    """One person of `org` (same sub-delegation and edition) in `state` with `label`."""
    person = Person(**person_values(org, state=state, label=label, copay=copay, **kw))
    session.add(person)
    session.flush()
    return person


def bulk_persons(session: Session, org: Organization, n: int, **kw) -> list[int]:
    """n persons of `org` in one multi-row INSERT; returns their ids in order."""
    rows = [person_values(org, **kw) for _ in range(n)]
    return list(session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True), rows))


def _current_edition_id(session: Session) -> int:
    edition_id = session.scalar(select(ExpoEdition.id).order_by(ExpoEdition.is_current.desc(), ExpoEdition.id.desc()))
    if edition_id is None:
        raise LookupError("make an edition first (make_edition or make_world)")
    return edition_id


# --------------------------------------------------------------------------------------------------
# Reading back what happened
# --------------------------------------------------------------------------------------------------


def audit_entries(session: Session, object_type: str | None = None, object_id: int | None = None,
                  action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def outbox(session: Session, template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return list(session.scalars(query))


def snapshot(session: Session, model, ids=None) -> dict[int, dict]:
    """{id: {column: value}} read straight from the database (no identity map), for before/after comparisons."""
    query = select(model.__table__)
    if ids is not None:
        query = query.where(model.__table__.c.id.in_(list(ids)))
    return {row.id: dict(row._mapping) for row in session.execute(query)}


# --------------------------------------------------------------------------------------------------
# Local servers
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (free when asked)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
