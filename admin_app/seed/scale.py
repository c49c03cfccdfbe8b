"""Demo data at national scale: a real demo run as the template, cloned set-based to a million persons.

    seed_at_scale(session, orgs=200_000, persons=1_000_000, seed=0)

The template is an ordinary seed_demo run (through the domain's operations, eight weeks of audited
history, money in every state). It is then copied K times by one INSERT … SELECT per table over the
copy numbers 1..K: each copy shifts every id by K × the table's span, keeps the template's states, times,
labels and history (so the spread of states and the audit log's weeks are the demo's), and takes new
values where the database asks for unique ones (USCCs and ID numbers generated valid in Python and
loaded by COPY; order numbers, payment references and invoice numbers suffixed with the copy).
It needs an empty database, so the template's ids are the only ones.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import lru_cache

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from stdnum.cn import uscc as uscc_check

from admin_app.seed.tree import seed_secretariat
from admin_app.seed.values import OTHER_PROVINCE_CITIES, area_codes, gb11714_check, with_check_digit
from models.delegation.operations import edit_sub_delegation
from models import (AuditEntry, DealIntention, IdType, Invoice, Order, OrderLine, Organization, OrgAddress,
                    OutboxMessage, Payment, Person, Refund, SubDelegation)

TEMPLATE_ORGS = 300
# Tables copied, parents first; audit entries and outbox messages follow the objects they name.
CLONED = (Organization, OrgAddress, Person, DealIntention, Order, OrderLine, Payment, Invoice, Refund)
OBJECT_TABLES = {"organization": Organization, "person": Person, "order": Order, "payment": Payment,
                 "invoice": Invoice, "refund": Refund, "deal_intention": DealIntention}
# Unique values a copy cannot keep: a suffix with the copy's number (USCCs and ID numbers come from `fresh`).
SUFFIXED = {(Order, "number"), (Payment, "reference"), (Invoice, "number")}


class ScaleError(Exception):
    """Scale seeding cannot run here (a database that already holds rows)."""


def seed_at_scale(session: Session, *, orgs: int, persons: int, seed: int = 0,
                  progress: Callable[[str], None] = lambda step: None, uploads=None,
                  template_orgs: int = TEMPLATE_ORGS) -> dict:
    """The demo's template run, then copies up to `orgs` organisations and about `persons` persons."""
    from admin_app.seed import seed_demo

    if session.scalar(select(func.count()).select_from(Organization)):
        raise ScaleError("大规模演示数据须在空数据库中生成（请先运行 flask --app admin_app demo --reset --no-serve）")
    template_orgs = min(template_orgs, orgs)
    template_persons = max(1, round(persons * template_orgs / orgs))
    summary = seed_demo(session, orgs=template_orgs, persons=template_persons, seed=seed, uploads=uploads)
    progress("template")
    copies = math.ceil(orgs / template_orgs) - 1
    if copies > 0:
        clone(session, copies, random.Random(seed), progress)
        grow_allowances(session, copies + 1)
    summary.update(organizations=session.scalar(select(func.count()).select_from(Organization)),
                   persons=session.scalar(select(func.count()).select_from(Person)), copies=copies)
    return summary


def grow_allowances(session: Session, factor: int) -> None:
    """Each sub-delegation recruits for `factor` templates' worth: the secretariat raises its target, quotas and
    budget alike, through the domain's operation (audited), one sub-delegation at a time (26 of them)."""
    actor = seed_secretariat(session)
    for sub in session.scalars(select(SubDelegation).order_by(SubDelegation.id)):
        edit_sub_delegation(session, sub, {"recruitment_target": sub.recruitment_target * factor,
                                           "vip_quota": sub.vip_quota * factor, "staff_quota": sub.staff_quota * factor,
                                           "copay_budget": sub.copay_budget * factor}, actor=actor)


def clone(session: Session, copies: int, rng: random.Random, progress: Callable[[str], None]) -> None:
    """Copy every template row `copies` times, set-based, with fresh unique values."""
    spans = {model: session.scalar(select(func.coalesce(func.max(model.id), 0))) for model in CLONED}
    spans.update({model: session.scalar(select(func.coalesce(func.max(model.id), 0)))
                  for model in (AuditEntry, OutboxMessage)})
    session.execute(text("CREATE TEMP TABLE seed_copy (k integer PRIMARY KEY)"))
    session.execute(text("INSERT INTO seed_copy (k) VALUES (:k)"), [{"k": k} for k in range(1, copies + 1)])
    load_fresh_values(session, copies, rng)
    progress("values")
    for model in CLONED:
        session.execute(copy_statement(model, spans))
        progress(model.__tablename__)
    for model in (AuditEntry, OutboxMessage):
        session.execute(object_copy_statement(model, spans))
        progress(model.__tablename__)
    if session.get_bind().dialect.name == "postgresql":
        for model in (*CLONED, AuditEntry, OutboxMessage):
            table = model.__tablename__
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
        session.execute(text("ANALYZE"))
    session.execute(text("DROP TABLE seed_copy"))
    session.execute(text("DROP TABLE seed_fresh"))


def shifted(model, column: str, spans: dict) -> str:
    """The SQL of a copied column: ids shifted by the copy's number times their table's span."""
    table = model.__table__
    if column == "id":
        return f"t.id + c.k * {spans[model]}"
    for fk in table.c[column].foreign_keys:
        target = next((m for m in CLONED if m.__table__ is fk.column.table), None)
        if target is not None:
            return f"t.{column} + c.k * {spans[target]}"
    if (model, column) in SUFFIXED:
        return f"t.{column} || '-' || c.k"
    return f"t.{column}"


def copy_statement(model, spans: dict):
    """INSERT … SELECT of every template row of `model` for every copy, unique values taken from seed_fresh."""
    table = model.__table__
    columns = [c.name for c in table.c]
    values = [shifted(model, c, spans) for c in columns]
    joins = ""
    fresh_column = {Organization: "uscc", Person: "id_number"}.get(model)
    if fresh_column:
        values[columns.index(fresh_column)] = f"COALESCE(f.value, t.{fresh_column})"
        joins = f" LEFT JOIN seed_fresh f ON f.kind = '{table.name}' AND f.k = c.k AND f.old_id = t.id"
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
                f"FROM {table.name} t CROSS JOIN seed_copy c{joins} WHERE t.id <= {spans[model]}")


def object_copy_statement(model, spans: dict):
    """Audit entries and outbox messages of the template's objects, copied with their objects' new ids."""
    table = model.__table__
    columns = [c.name for c in table.c]
    shift = " ".join(f"WHEN '{kind}' THEN {spans[target]}" for kind, target in OBJECT_TABLES.items())
    values = [f"t.id + c.k * {spans[model]}" if c == "id"
              else f"t.object_id + c.k * (CASE t.object_type {shift} END)" if c == "object_id" else f"t.{c}"
              for c in columns]
    kinds = ", ".join(f"'{kind}'" for kind in OBJECT_TABLES)
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
                f"FROM {table.name} t CROSS JOIN seed_copy c WHERE t.id <= {spans[model]} "
                f"AND t.object_type IN ({kinds})")


def load_fresh_values(session: Session, copies: int, rng: random.Random) -> None:
    """New USCCs and ID numbers for every copy (valid check digits, birth dates kept), into seed_fresh."""
    session.execute(text("CREATE TEMP TABLE seed_fresh (kind varchar(20), k integer, old_id integer, "
                         "value varchar(40), PRIMARY KEY (kind, k, old_id))"))
    orgs = session.execute(select(Organization.id, Organization.uscc).where(Organization.uscc.is_not(None))).all()
    people = session.execute(select(Person.id, Person.id_type, Person.id_number, Person.birth_date,
                                    Person.gender)).all()
    taken_usccs = {uscc for _, uscc in orgs}
    taken_ids = {(t.value if hasattr(t, "value") else t, n) for _, t, n, _, _ in people}
    rows = []
    for k in range(1, copies + 1):
        for org_id, uscc in orgs:
            rows.append(("organization", k, org_id, fresh_uscc(uscc, rng, taken_usccs)))
        for person_id, id_type, number, birth, gender in people:
            rows.append(("person", k, person_id, fresh_id(id_type, number, birth, rng, taken_ids)))
    write_rows(session, "seed_fresh", ("kind", "k", "old_id", "value"), rows)


def fresh_uscc(like: str, rng: random.Random, taken: set) -> str:
    """A USCC of the same registration kind and region as `like`, unused, with both check characters right."""
    while True:
        code = "".join(rng.choices("0123456789", k=8))
        body = like[:8] + code + gb11714_check(code)
        number = body + uscc_check.calc_check_digit(body)
        if number not in taken:
            taken.add(number)
            return number


def fresh_id(id_type, like: str, birth, rng: random.Random, taken: set) -> str:
    """A new number of the same kind: a resident ID with the same area and birth date, or the same shape."""
    kind = id_type.value if hasattr(id_type, "value") else id_type
    while True:
        if kind == IdType.RESIDENT_ID.value:
            codes = area_pool(like[:4], birth.year)
            sequence = rng.randrange(500) * 2 + int(like[16]) % 2  # odd for men, even for women, as before
            number = with_check_digit(f"{rng.choice(codes)}{like[6:14]}{sequence:03d}")
        else:
            number = like[0] + "".join(rng.choices("0123456789", k=len(like) - 1)) if like[0].isalpha() else \
                "".join(rng.choices("0123456789", k=len(like)))
        if (kind, number) not in taken:
            taken.add((kind, number))
            return number


@lru_cache(maxsize=None)
def area_pool(prefix: str, year: int) -> tuple[str, ...]:
    """Area codes valid for the birth year: the person's own city's first, then others, so that hundreds of
    copies of one person (same birth date and sex: 500 sequence numbers per area) never run out."""
    return tuple(dict.fromkeys((*area_codes(prefix, year), *(code for city in ("4401", *OTHER_PROVINCE_CITIES)
                                                               for code in area_codes(city, year)))))


def write_rows(session: Session, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Many rows into a table: COPY on PostgreSQL, executemany on SQLite."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    connection.connection.driver_connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


__all__ = ["seed_at_scale", "ScaleError"]
