"""Shorthands for labelled columns: every column carries its Chinese and English label.

A numeric column may also declare the values it accepts, once, in its info: info={"range": (0, 100_000)}.
Forms build their validators from it (and from what the column's type can hold when nothing is declared),
so a negative quota, a NaN budget or a fee of 1e12 is refused on the field before the database sees it.
"""
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, SmallInteger
from sqlalchemy.orm import mapped_column

from models.base import enum_column_type

INT_BOUNDS = {SmallInteger: 2**15 - 1, BigInteger: 2**63 - 1, Integer: 2**31 - 1}


def col(type_, zh: str, en: str, *args, **kw):
    """A mapped column whose info holds the (Chinese, English) label shown by the back office."""
    info = kw.pop("info", {})
    info["label"] = (zh, en)
    return mapped_column(type_, *args, info=info, **kw)


def fk(target: str, zh: str, en: str, *, nullable: bool = False, ondelete: str | None = None, **kw):
    """A labelled foreign-key column."""
    info = kw.pop("info", {})
    info["label"] = (zh, en)
    return mapped_column(ForeignKey(target, ondelete=ondelete), nullable=nullable, info=info, **kw)


def enum_col(enum_cls, name: str, zh: str, en: str, **kw):
    """A labelled enum column stored as its lower-case value."""
    return col(enum_column_type(enum_cls, name), zh, en, **kw)


def type_range(column) -> tuple | None:
    """(min, max) that the column's SQL type can store, or None for a column that is not a number."""
    type_ = column.type
    if isinstance(type_, Numeric) and not isinstance(type_, Integer) and type_.precision is not None:
        scale = type_.scale or 0
        largest = Decimal(10) ** (type_.precision - scale) - Decimal(10) ** -scale
        return -largest, largest
    for kind, largest in INT_BOUNDS.items():  # subclasses first: BigInteger and SmallInteger are Integers
        if isinstance(type_, kind):
            return -largest - 1, largest
    return None


def value_range(column) -> tuple | None:
    """(min, max) a numeric column accepts: its declared info["range"] within what its type can store."""
    stored = type_range(column)
    declared = column.info.get("range")
    if stored is None or declared is None:
        return declared or stored
    return max(declared[0], stored[0]), min(declared[1], stored[1])
