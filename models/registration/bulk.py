"""Batch registration (批量注册), set-based: organisations and persons from validated rows, audited, in a few statements.

The rows come checked by models.validation (an importer does that cell by cell); these operations decide
what needs the database: scope, duplicates, organisations that can take persons, and the VIP/staff quotas
of labels asked at registration (seed 004: 单位在注册时可直接在额度内申办免费证件). They are all-or-nothing:
any refused row and nothing is written; the answer names each refused row by its position in `rows`.
Like every operation they take the actor as a keyword, flush and never commit.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.orm import Session

from models.audit.tables import AuditEntry
from models.base import utcnow
from models.delegation.tables import SubDelegation, User
from models.engine import NOT_VISIBLE, Refusal
from models.enums import Label, OrgCategory, OrgState, PersonState, Role
from models.errors import NotAllowed
from models.ids import id_in
from models.jsonrows import insert_select, text_in
from models.registration.preallocation import pre_allocations
from models.registration.quotas import QUOTA_FIELD, Slots, lock
from models.registration.tables import Organization, Person
from models.scope import visible

REGISTRARS = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
ORGANIZATION_COLUMNS = {"sub_delegation_id": "integer", "name": "text", "uscc": "text", "category": "text",
                        "contact_name": "text", "contact_mobile": "text", "contact_email": "text",
                        "purchase_intentions": "text", "vip_quota": "integer", "staff_quota": "integer"}
PERSON_COLUMNS = {"organization_id": "integer", "sub_delegation_id": "integer", "edition_id": "integer",
                  "name": "text", "gender": "text", "region_type": "text", "id_type": "text", "id_number": "text",
                  "birth_date": "date", "mobile": "text", "email": "text", "position": "text", "entry_days": "text",
                  "pickup": "text", "label": "text"}
AUDIT_COLUMNS = ["at", "actor_id", "action", "object_type", "object_id", "sub_delegation_id", "from_state", "to_state",
                 "params"]


@dataclass
class Registered:
    """What a batch registration did: the new ids (organisations by USCC; persons under "persons"), or the rows
    refused and why, by their position in the rows given."""

    ids: dict = field(default_factory=dict)
    refused: dict[int, Refusal] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.refused


def _require_registrar(actor: User) -> None:
    if actor is None or not actor.active or actor.role not in REGISTRARS:
        raise NotAllowed("只有秘书处和分团管理员可以批量注册")


def _sub_delegations_in_scope(session: Session, actor: User, sub_ids) -> set[int]:
    return set(session.scalars(select(SubDelegation.id).where(id_in(SubDelegation.id, sub_ids),
                                                              visible(actor, SubDelegation))))


def register_organizations(session: Session, rows: list[dict], *, actor: User, edition_id: int,
                           now: datetime | None = None) -> Registered:
    """Register draft organisations (one INSERT, one audit INSERT); quotas pre-allocated to a USCC are applied.

    Each row: sub_delegation_id, name, uscc, category, contact_name, contact_mobile, contact_email,
    purchase_intentions. Refused: a sub-delegation outside the actor's scope, a USCC registered already in
    the edition or twice in the rows, a domestic organisation without a USCC.
    """
    _require_registrar(actor)
    now = now or utcnow()
    result = Registered()
    in_scope = _sub_delegations_in_scope(session, actor, {r["sub_delegation_id"] for r in rows})
    taken = set(session.scalars(select(Organization.uscc).where(
        Organization.edition_id == edition_id, text_in(Organization.uscc, [r["uscc"] for r in rows if r["uscc"]]))))
    seen: Counter = Counter()
    for position, row in enumerate(rows):
        uscc = row.get("uscc")
        seen[uscc] += 1
        if row["sub_delegation_id"] not in in_scope:
            result.refused[position] = Refusal(f"交易分团{NOT_VISIBLE}", "not_visible", "sub_delegation_id")
        elif not uscc and not OrgCategory(row["category"]).is_overseas:
            result.refused[position] = Refusal("境内单位须填写统一社会信用代码", "guard", "uscc")
        elif uscc in taken:
            result.refused[position] = Refusal("该统一社会信用代码已在本届注册", "duplicate", "uscc")
        elif uscc and seen[uscc] > 1:
            result.refused[position] = Refusal("统一社会信用代码在本批中重复", "duplicate", "uscc")
    if result.refused or not rows:
        return result
    allocated = pre_allocations(session, edition_id, [r["uscc"] for r in rows])
    values = []
    for row in rows:
        vip, staff = allocated.get((row["uscc"], row["sub_delegation_id"]), (0, 0))
        values.append({**{k: row.get(k) for k in ORGANIZATION_COLUMNS}, "vip_quota": vip, "staff_quota": staff})
    inserted = insert_select(session, Organization.__table__, ORGANIZATION_COLUMNS, values, returning="uscc, id",
                             constants={
        "edition_id": (":edition", {"edition": edition_id}), "state": (":state", {"state": OrgState.DRAFT.value}),
        "uscc_recognised": (":recognised", {"recognised": False}), "prior_edition": (":prior", {"prior": False}),
        "created_at": (":now", {"now": now}), "updated_at": (":now", {"now": now})})
    result.ids = {uscc: org_id for uscc, org_id in inserted}
    _audit_created(session, Organization, "organization", list(result.ids.values()),
                   ["edition_id", *ORGANIZATION_COLUMNS], actor, now)
    session.flush()
    return result


def register_persons(session: Session, rows: list[dict], *, actor: User, now: datetime | None = None) -> Registered:
    """Register saved persons of organisations in the actor's scope (one INSERT, one audit INSERT).

    Each row: organization_id, name, gender, region_type, id_type, id_number, birth_date, mobile, email,
    position, entry_days, pickup, label. The sub-delegation and edition are the organisation's. Refused: an
    organisation out of scope, deleted or rejected; an ID document registered already in the edition or twice
    in the rows; a VIP or staff label beyond the organisation's or the sub-delegation's quota (rows in order).
    """
    _require_registrar(actor)
    now = now or utcnow()
    result = Registered()
    orgs = {o.id: o for o in session.execute(
        select(Organization.id, Organization.sub_delegation_id, Organization.edition_id, Organization.state)
        .where(id_in(Organization.id, {r["organization_id"] for r in rows}), visible(actor, Organization),
               Organization.deleted_at.is_(None)))}
    values = []
    for position, row in enumerate(rows):
        org = orgs.get(row["organization_id"])
        if org is None:
            result.refused[position] = Refusal(f"单位{NOT_VISIBLE}", "not_visible", "organization_id")
        elif org.state == OrgState.REJECTED:
            result.refused[position] = Refusal("所属单位审核不通过，不能再登记人员", "guard", "organization_id")
        values.append({**{k: row.get(k) for k in PERSON_COLUMNS}, "sub_delegation_id": org.sub_delegation_id if org else None,
                       "edition_id": org.edition_id if org else None})
    if not result.refused:
        _refuse_duplicate_documents(session, values, result)
    if not result.refused:
        _refuse_beyond_quota(session, values, orgs, result)
    if result.refused or not rows:
        return result
    constants = {"state": (":state", {"state": PersonState.SAVED.value}), "copay": (":copay", {"copay": "undecided"}),
                 "copay_amount": (":zero", {"zero": 0}), "is_reuse": (":reuse", {"reuse": False}),
                 "created_at": (":now", {"now": now}), "updated_at": (":now", {"now": now})}
    if session.get_bind().dialect.name == "postgresql":
        # One statement: the audit entries are made from the rows the INSERT returns (a data-modifying CTE).
        audit = _audit_sql(Person, "person", PERSON_COLUMNS, "new", "postgresql")
        ids = [row[0] for row in insert_select(
            session, Person.__table__, PERSON_COLUMNS, values, constants=constants,
            then=f"{audit} FROM new RETURNING object_id",
            then_params={"actor": actor.id, "action": "person.created", "object_type": "person"})]
    else:
        ids = [row.id for row in insert_select(session, Person.__table__, PERSON_COLUMNS, values, returning="id",
                                               constants=constants)]
        _audit_created(session, Person, "person", ids, PERSON_COLUMNS, actor, now)
    session.flush()
    result.ids = {"persons": ids}
    return result


def _refuse_duplicate_documents(session: Session, values: list[dict], result: Registered) -> None:
    """ID documents registered already in the organisation's edition, or given twice in the rows."""
    editions = {v["edition_id"] for v in values}
    registered = set(session.execute(select(Person.edition_id, Person.id_type, Person.id_number).where(
        Person.edition_id.in_(sorted(editions)), text_in(Person.id_number, {v["id_number"] for v in values}))).all())
    seen = set()
    for position, v in enumerate(values):
        key = (v["edition_id"], v["id_type"], v["id_number"])
        if key in registered:
            result.refused[position] = Refusal("该证件已在本届登记", "duplicate", "id_number")
        elif key in seen:
            result.refused[position] = Refusal("证件号码在本批中重复", "duplicate", "id_number")
        seen.add(key)


def _refuse_beyond_quota(session: Session, values: list[dict], orgs: dict, result: Registered) -> None:
    """VIP and staff labels asked at registration, in row order, while both quotas hold (as set_label counts)."""
    limited = [(p, v) for p, v in enumerate(values) if Label(v["label"]) in QUOTA_FIELD]
    if not limited:
        return
    # Locked like every label decision (models/registration/quotas.py): two batches do not both take the last slot.
    subs = {s.id: s for s in lock(session, SubDelegation, {v["sub_delegation_id"] for _, v in limited})}
    owners = {o.id: o for o in session.scalars(select(Organization).where(
        id_in(Organization.id, {v["organization_id"] for _, v in limited})))}
    slots = {label: Slots(session, label, subs, owners) for label in QUOTA_FIELD}
    for position, v in limited:
        row = _SlotRow(v["sub_delegation_id"], v["organization_id"])
        refusal = slots[Label(v["label"])].take(row)
        if refusal:
            result.refused[position] = Refusal(refusal, "quota", "label")


@dataclass(frozen=True)
class _SlotRow:
    sub_delegation_id: int
    organization_id: int


def _audit_created(session: Session, model, object_type: str, ids: list[int], columns, actor: User,
                   now: datetime) -> None:
    """One INSERT ... SELECT of the `<object_type>.created` entries of the new rows (ids as one parameter)."""
    table = model.__table__
    audit = _audit_sql(model, object_type, columns, table.name, session.get_bind().dialect.name)
    session.execute(text(f"{audit} FROM {table.name} WHERE {table.name}.id IN (SELECT value FROM json_each(:ids))"
                         if session.get_bind().dialect.name != "postgresql" else
                         f"{audit} FROM {table.name} WHERE {table.name}.id = ANY(CAST(:ids AS integer[]))")
                    .bindparams(bindparam("now", type_=DateTime(timezone=True))),
                    {"now": now, "actor": actor.id, "action": f"{object_type}.created", "object_type": object_type,
                     "ids": json.dumps(ids) if session.get_bind().dialect.name != "postgresql" else ids})


def _audit_sql(model, object_type: str, columns, alias: str, dialect: str) -> str:
    """`INSERT INTO audit_entry (...) SELECT ...` over the rows named `alias`, without its FROM.

    The entry's parameters are the columns given, built by the database from the row itself and masked as
    create_row masks them (models/editing.py, models/present.mask), so no value travels twice.
    """
    pairs = []
    for name in columns:
        value = f'{alias}."{name}"'
        if model.__table__.c[name].info.get("sensitive"):
            value = _mask_sql(f"CAST({value} AS TEXT)", dialect)
        pairs.append(f"'{name}', {value}")
    if dialect == "postgresql":
        params = f"jsonb_strip_nulls(jsonb_build_object({', '.join(pairs)}))"
    else:  # json_patch onto {} drops the keys whose value is null, as jsonb_strip_nulls does
        params = f"json_patch('{{}}', json_object({', '.join(pairs)}))"
    return (f"INSERT INTO {AuditEntry.__table__.name} ({', '.join(AUDIT_COLUMNS)}) SELECT :now, :actor, :action, "
            f":object_type, {alias}.id, {alias}.sub_delegation_id, NULL, {alias}.state, {params}")


def _mask_sql(value: str, dialect: str) -> str:
    """SQL for models.present.mask: 11 characters or more keep the first three and last four, 8 to 10 the first
    and last two, shorter ones nothing; stars between."""
    if dialect == "postgresql":
        def kept(front: int, back: int) -> str:
            return f"left({value}, {front}) || repeat('*', length({value}) - {front + back}) || right({value}, {back})"
        short = f"repeat('*', length({value}))"
    else:
        stars = "'" + "*" * 64 + "'"

        def kept(front: int, back: int) -> str:
            return (f"substr({value}, 1, {front}) || substr({stars}, 1, length({value}) - {front + back}) || "
                    f"substr({value}, -{back})")
        short = f"substr({stars}, 1, length({value}))"
    return (f"CASE WHEN length({value}) >= 11 THEN {kept(3, 4)} WHEN length({value}) >= 8 THEN {kept(1, 2)} "
            f"ELSE {short} END")