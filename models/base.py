"""Declarative base, naming convention and column helpers shared by every table."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Enum, MetaData, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

# Alembic and SQLite batch migrations need deterministic constraint names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Root of every mapped class; Flask-SQLAlchemy reuses it as db.Model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def created_at_column():
    """A created-at timestamp filled by the application and the database."""
    from sqlalchemy.orm import mapped_column

    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now(), nullable=False,
                         info={"label": ("创建时间", "Created at")})


def updated_at_column():
    """An updated-at timestamp bumped on every ORM update (bulk updates set it explicitly)."""
    from sqlalchemy.orm import mapped_column

    return mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now(),
                         nullable=False, info={"label": ("更新时间", "Updated at")})


class LabeledEnum(str, enum.Enum):
    """A string enum whose members carry a Chinese and an English label."""

    def __new__(cls, value: str, zh: str, en: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.zh = zh
        obj.en = en
        return obj

    def __str__(self) -> str:
        return self.value

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, Chinese label) pairs for forms and filters."""
        return [(m.value, m.zh) for m in cls]

    @classmethod
    def labelled(cls) -> tuple[tuple[str, tuple[str, str]], ...]:
        """(value, (Chinese, English)) pairs: an action parameter's choices, shown in the reader's language."""
        return tuple((m.value, (m.zh, m.en)) for m in cls)


def enum_column_type(enum_cls: type[LabeledEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR with a CHECK constraint, storing the lower-case values."""
    return Enum(enum_cls, name=name, native_enum=False, create_constraint=True, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)
