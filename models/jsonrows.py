"""Many rows, or many strings, in a few bound parameters: set-based inserts and lookups on PostgreSQL and SQLite.

A 100,000-row insert is one `INSERT ... SELECT FROM <records>` statement, never one bound parameter per
value (the same rule as models/ids.py for lists of ids): on PostgreSQL one typed array per column, read
with unnest() (psycopg sends arrays in binary, so the server parses no text); on SQLite the rows as one
JSON text, read with json_each().
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

# The recordset types a column may be declared with, as PostgreSQL names them.
PG_TYPES = {"text": "text", "integer": "integer", "date": "date", "boolean": "boolean", "numeric": "numeric",
            "json": "json"}


def _plain(value):
    """What json cannot write by itself: dates and decimals."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(rows: Iterable[Mapping]) -> str:
    """The rows as one JSON array of objects (dates ISO, decimals as text; enums are str and go as their value)."""
    return json.dumps(rows if isinstance(rows, list) else list(rows), ensure_ascii=False, default=_plain)


def insert_select(session: Session, table, columns: Mapping[str, str], rows: list[Mapping], *,
                  constants: Mapping[str, tuple[str, object]] = (), returning: str | None = None,
                  then: str | None = None, then_params: Mapping | None = None) -> list:
    """INSERT INTO table (columns..., constants...) SELECT the rows' values and the constants, in one statement.

    `columns` maps each column to its recordset type (PG_TYPES); `constants` maps a column to (SQL
    expression over :named parameters, {name: value}), e.g. {"created_at": (":now", {"now": now})}.
    Returns the rows of the `returning` columns when asked (their order is not the rows' order).
    PostgreSQL only: `then` is a statement over the inserted rows, which it reads as `new`; the whole becomes
    `WITH new AS (INSERT ... RETURNING *) <then>` (one statement), with `then_params` bound too.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    source, expressions = records(dialect, columns)
    if dialect == "postgresql":
        params: dict = {f"c_{name}": [row.get(name) for row in rows] for name in columns}
        binds = []
    else:
        params, binds = {"rows": dumps(rows)}, [bindparam("rows", type_=Text())]
    params.update(then_params or {})
    names, values = list(columns), [expressions[c] for c in columns]
    for name, (expression, bound) in dict(constants).items():
        names.append(name)
        values.append(expression)
        for key, value in bound.items():
            if key not in params:
                binds.append(bindparam(key, type_=_bind_type(value)))
            params[key] = value
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = f"INSERT INTO {table.name} ({quoted}) SELECT {', '.join(values)} FROM {source}"
    if then:
        sql = f"WITH new AS ({sql} RETURNING *) {then}"
    elif returning:
        sql += f" RETURNING {returning}"
    result = session.execute(text(sql).bindparams(*binds), params)
    return result.all() if returning or then else []  # one fetchall: iterating fetched row by row


def records(dialect: str, columns: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(FROM clause reading the rows, {column: SQL expression of its value}).

    PostgreSQL: unnest() of one array parameter per column, :c_<column>; elsewhere the JSON rows of :rows.
    """
    if dialect == "postgresql":
        arrays = ", ".join(f"CAST(:c_{name} AS {PG_TYPES[kind]}[])" for name, kind in columns.items())
        names = ", ".join(f'"{name}"' for name in columns)
        return f"unnest({arrays}) AS r({names})", {name: f'r."{name}"' for name in columns}
    expressions = {name: (f"json(json_extract(r.value, '$.{name}'))" if kind == "json"
                          else f"json_extract(r.value, '$.{name}')") for name, kind in columns.items()}
    return "json_each(:rows) AS r", expressions


def _bind_type(value):
    if isinstance(value, datetime):
        return DateTime(timezone=True)
    if isinstance(value, bool):
        return Boolean()
    return None


class StringArray(TypeDecorator):
    """A list of strings: a text[] on PostgreSQL, a JSON text elsewhere."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Text()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        values = sorted({str(v) for v in value})
        return values if dialect.name == "postgresql" else json.dumps(values, ensure_ascii=False)


class StringsMatch(ColumnElement):
    """`column = ANY(:values)` on PostgreSQL, `column IN (SELECT value FROM json_each(:values))` elsewhere."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, values: Iterable[str]):
        self.column = column
        self.values = bindparam("values", value=list(values), type_=StringArray(), unique=True)


@compiles(StringsMatch)
def _compile_json(element, compiler, **kw):
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(StringsMatch, "postgresql")
def _compile_any(element, compiler, **kw):
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.values, **kw)})"


def text_in(column, values: Iterable[str]) -> ColumnElement:
    """Predicate for column among the strings, bound as one parameter."""
    return StringsMatch(column, values)
