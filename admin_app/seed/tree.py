"""The demo's reference data: the edition, the delegation tree read from the recruitment table, and the accounts
that act in the generated history. Everything is created through the domain's operations, as the secretariat."""
from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from importlib import resources
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Delegation, ExpoEdition, Role, SubDelegation, SubDelegationKind, User
from models.delegation.operations import (create_delegation, create_edition, create_sub_delegation, create_user,
                                         edit_edition)

DELEGATION_CODE, DELEGATION_NAME = "guangdong", "广东交易团"
TREE_SEED = 2020
RECRUITMENT_TABLE = "recruitment_targets.csv"  # in models/delegation/data/, shipped with the package
BEIJING = ZoneInfo("Asia/Shanghai")
# The reference data is entered the week before the demo's eight weeks of registrations begin.
SETUP_LEAD = timedelta(days=7)
WEEKS = 8  # of registration history, ending with the registration deadline's week

EDITION = dict(number=8, name="第八届中国国际进口博览会", start_date=date(2025, 11, 5), end_date=date(2025, 11, 10),
               entry_days=",".join(f"2025-11-{d:02d}" for d in range(5, 11)), fee_per_label=Decimal("200.00"),
               reuse_fee_percent=50, transfer_deadline=date(2025, 10, 12), qr_deadline=date(2025, 10, 15),
               b2b_deadline=date(2025, 10, 15), is_current=True)
OFFICIAL_POSITIONS = ("处长", "副处长", "科长", "副科长", "一级主任科员", "二级主任科员")
# The seed's own acting accounts are demo-data-<key>, apart from the sign-in accounts `flask demo` creates.
ACCOUNT_PREFIX = "demo-data-"


@dataclass(frozen=True)
class Member:
    """A member unit of the recruitment table (招商任务分解表), with its region and telephone area codes."""

    seq: int
    code: str
    name: str
    kind: SubDelegationKind
    target: int
    region: str
    phone_area: str


def load_recruitment_table() -> tuple[Member, ...]:
    """The 26 member units of the seed's 招商工作任务分解表 (序号, 成员单位, 组织采购商（家数）) and their codes."""
    text = resources.files("models.delegation").joinpath("data", RECRUITMENT_TABLE).read_text(encoding="utf-8")
    return tuple(Member(seq=int(row["序号"]), code=row["code"], name=row["成员单位"],
                        kind=SubDelegationKind(row["kind"]), target=int(row["组织采购商（家数）"]),
                        region=row["region"], phone_area=row["phone_area"])
                 for row in csv.DictReader(text.splitlines()))


DELEGATION_TREE = load_recruitment_table()
CITIES = tuple(m for m in DELEGATION_TREE if m.kind is SubDelegationKind.CITY)


def sub_delegation_allowances(target: int) -> dict:
    """VIP/staff quotas and co-payment budget of a sub-delegation, proportional to its recruitment target."""
    return {"vip_quota": max(3, target // 10), "staff_quota": max(6, target // 4),
            "copay_budget": Decimal(target * 150)}


def registration_deadline(edition: ExpoEdition) -> date:
    """The edition's registration deadline: its transfer-payment deadline, else 12 October 2025."""
    return edition.transfer_deadline or EDITION["transfer_deadline"]


def registration_weeks(edition: ExpoEdition) -> list[date]:
    """Mondays of the WEEKS weeks up to the registration deadline, the last one the deadline's week."""
    deadline = registration_deadline(edition)
    last_monday = deadline - timedelta(days=deadline.weekday())
    return [last_monday - timedelta(weeks=WEEKS - 1 - w) for w in range(WEEKS)]


def setup_time(edition: ExpoEdition | None = None) -> datetime:
    """When the demo's reference data is entered: a week before its first registration week."""
    first = registration_weeks(edition)[0] if edition is not None else _default_first_monday()
    return datetime.combine(first - SETUP_LEAD, time(10), BEIJING).astimezone(timezone.utc)


def _default_first_monday() -> date:
    deadline = EDITION["transfer_deadline"]
    return deadline - timedelta(days=deadline.weekday(), weeks=WEEKS - 1)


def seed_account(session: Session, key: str, role: Role, display_name: str, codes: list[str] = ()) -> User:
    """One of the seed's own acting users (`demo-data-<key>`), created once with a random password nobody knows."""
    username = ACCOUNT_PREFIX + key
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(session, username, secrets.token_urlsafe(24), role, sub_delegation_codes=list(codes),
                           display_name=display_name)
    return user


def seed_secretariat(session: Session) -> User:
    """The secretariat account that enters the reference data and does second reviews in the history."""
    return seed_account(session, "secretariat", Role.SECRETARIAT, "秘书处审核员（演示数据）")


def ensure_edition(session: Session) -> ExpoEdition:
    """The current edition; the eighth (2025) is created (by the secretariat) or made current if there is none."""
    edition = session.scalar(select(ExpoEdition).where(ExpoEdition.is_current.is_(True))
                             .order_by(ExpoEdition.number.desc()).limit(1))
    if edition is not None:
        return edition
    edition = session.scalar(select(ExpoEdition).where(ExpoEdition.number == EDITION["number"]))
    if edition is None:
        return create_edition(session, dict(EDITION), actor=seed_secretariat(session), now=setup_time())
    edit_edition(session, edition, {"is_current": True}, actor=seed_secretariat(session), now=setup_time(edition))
    return edition


def seed_delegation_tree(session: Session) -> dict[str, SubDelegation]:
    """The delegation and its 26 sub-delegations by code; missing ones are created, existing ones left alone."""
    secretariat = seed_secretariat(session)
    now = setup_time()
    delegation = session.scalar(select(Delegation).where(Delegation.code == DELEGATION_CODE))
    if delegation is None:
        delegation = create_delegation(session, {"code": DELEGATION_CODE, "name": DELEGATION_NAME},
                                       actor=secretariat, now=now)
    subs = {s.code: s for s in session.scalars(
        select(SubDelegation).where(SubDelegation.code.in_([m.code for m in DELEGATION_TREE])))}
    fake = Faker("zh_CN")
    fake.seed_instance(TREE_SEED)
    for m in DELEGATION_TREE:
        # Drawn for every member, so a member's contact sheet does not depend on which others exist.
        contact = {"contact_name": fake.name(), "contact_position": fake.random_element(OFFICIAL_POSITIONS),
                   "office_phone": f"{m.phone_area}-{fake.numerify('8#######')}", "mobile": fake.phone_number(),
                   "fax": f"{m.phone_area}-{fake.numerify('8#######')}"}
        if m.code not in subs:
            values = dict(delegation_id=delegation.id, seq=m.seq, code=m.code, name=m.name, kind=m.kind,
                          recruitment_target=m.target, **sub_delegation_allowances(m.target), **contact)
            subs[m.code] = create_sub_delegation(session, values, actor=secretariat, now=now)
    return {m.code: subs[m.code] for m in DELEGATION_TREE}


@dataclass
class Actors:
    """Who acts in the history: the secretariat, finance, and one admin per sub-delegation (by its id)."""

    secretariat: User
    finance: User
    admins: dict[int, User]


def seed_actors(session: Session, subs: dict[str, SubDelegation]) -> Actors:
    """The seed's acting accounts, created once: first reviews are each sub-delegation's own admin's."""
    admins = {sub.id: seed_account(session, code, Role.SUB_DELEGATION_ADMIN, f"{sub.name}分团管理员（演示数据）",
                                   [code]) for code, sub in subs.items()}
    finance = seed_account(session, "finance", Role.FINANCE, "财务人员（演示数据）")
    return Actors(seed_secretariat(session), finance, admins)
