"""Shorthands for labelled columns: every column carries its Chinese and English label."""
from sqlalchemy import ForeignKey
from sqlalchemy.orm import mapped_column

from models.base import enum_column_type


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
