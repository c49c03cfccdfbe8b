"""Match a column against a list of ids bound as ONE parameter: an array on PostgreSQL, JSON elsewhere.

PostgreSQL caps a statement at 65,535 bound parameters, and a 50,000-id IN list is slow to plan on
every backend, so ids never travel one parameter each.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Boolean, Integer, Select, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator


INT4_MIN, INT4_MAX = -2**31, 2**31 - 1


class IdArray(TypeDecorator):
    """A list of integer ids: an integer[] on PostgreSQL, a JSON text elsewhere.

    integer[], like the id columns: `int4 = ANY(bigint[])` is a cross-type comparison PostgreSQL does
    not hash, so a filter on 50,000 ids scanned the whole array for every row (seconds, not ms).
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Integer()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        ids = [int(v) for v in value]
        if dialect.name == "postgresql":
            # An id outside integer's range matches no row; it must not make the cast fail.
            return [i for i in ids if INT4_MIN <= i <= INT4_MAX]
        return json.dumps(ids)


class IdsMatch(ColumnElement[bool]):
    """`column = ANY(:ids)` on PostgreSQL, `column IN (SELECT value FROM json_each(:ids))` elsewhere."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("ids", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, ids: Iterable[int]):
        self.column = column
        self.ids = bindparam("ids", value=sorted({int(i) for i in ids}), type_=IdArray(), unique=True)


@compiles(IdsMatch)
def _compile_json(element, compiler, **kw):
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.ids, **kw)}))")


@compiles(IdsMatch, "postgresql")
def _compile_any(element, compiler, **kw):
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.ids, **kw)})"


def id_in(column, ids: Iterable[int] | Select) -> ColumnElement[bool]:
    """Predicate for column among ids, given as a list (one bound value) or a SELECT of ids."""
    if isinstance(ids, Select):
        return column.in_(ids)
    return IdsMatch(column, ids)


def parse_ids(values: Iterable[str | int]) -> list[int]:
    """Ids from form or CLI strings; anything that is not a whole number is dropped."""
    out = []
    for v in values:
        try:
            out.append(int(str(v).strip()))
        except ValueError:
            continue
    return out
