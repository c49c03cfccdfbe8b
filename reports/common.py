"""What every report shares: the sub-delegations in scope, masking, words in a language, a read-only session.

Reports take the acting user and the language explicitly and need no request: the CLI, the back office
and (later) background jobs call them alike.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from models.delegation import SubDelegation, User
from models.errors import NotFound
from models.present import BEIJING, enum_label, masked_columns, shown, yes_no
from models.scope import visible


@dataclass
class Written:
    """What an export wrote: rows per sheet, and the files when it wrote several."""

    sheets: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def words(pair: tuple[str, str], lang: str) -> str:
    """The member of a (zh, en) pair for the language."""
    return pair[1] if str(lang).startswith("en") else pair[0]


def label(member, lang: str) -> str:
    """An enum member or stored value as its label ('' for None)."""
    return enum_label(member, lang) if member is not None else ""


def yes(value, lang: str) -> str:
    """是 / 否."""
    return yes_no(value, lang)


def now_in_beijing() -> datetime:
    return datetime.now(BEIJING)


def read_session(engine: Engine) -> Session:
    """A session for reading one consistent snapshot without holding locks.

    SQLite: a deferred BEGIN (no write lock, a WAL snapshot). PostgreSQL: REPEATABLE READ READ ONLY, so
    every sheet of a workbook reads the same moment.
    """
    if engine.dialect.name == "postgresql":
        return Session(engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True))
    return Session(engine, execution_options={"sqlite_begin": "DEFERRED"})


def visible_sub_delegations(session: Session, actor: User, codes: Iterable[str] | None = None) -> list[SubDelegation]:
    """The sub-delegations the actor may see, in the recruitment table's order; `codes` narrows them.

    A code that does not exist and a code outside the actor's scope get the same refusal, so a report
    never tells whether a sub-delegation it may not show exists.
    """
    query = select(SubDelegation).where(visible(actor, SubDelegation)).order_by(SubDelegation.seq, SubDelegation.id)
    wanted = [c.strip() for c in codes or () if c and c.strip()]
    if wanted:
        query = query.where(SubDelegation.code.in_(wanted))
    subs = list(session.scalars(query))
    missing = sorted(set(wanted) - {s.code for s in subs})
    if missing:
        raise NotFound(f"交易分团不存在或不在您的权限范围内：{'、'.join(missing)}")
    return subs


def masked(actor: User, model) -> dict[str, str]:
    """{column key: MASK | YEAR} of `model`'s personal columns as the actor's role sees them (viewers: masked)."""
    return masked_columns(model, actor.role if actor is not None else None)


def seen(value, kind: str | None):
    """A value as a reader with this masking kind sees it (unchanged for None)."""
    return value if kind is None or value is None else shown(value, kind)
