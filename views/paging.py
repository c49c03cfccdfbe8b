"""Lists that stay fast at a million rows: a bounded count (a planner estimate beyond it) and keyset pages.

An exact COUNT(*) over a million persons costs more than the page itself, and OFFSET reads every row it
skips. So a list counts at most COUNT_CAP (2,000) matching rows; beyond that it shows 「约 1,000,000 条」, the
planner's estimate for the same WHERE (PostgreSQL, function dd_count_estimate), or 「超过 2,000 条」. The
next, previous and last pages continue from the row at the page's edge (WHERE (sort, id) < (:v, :id)),
in the same number of statements as the first page.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, has_app_context
from sqlalchemy import and_, case, func, literal, literal_column, or_, select
from sqlalchemy.exc import SQLAlchemyError

from views.i18n import pick

COUNT_CAP = 2_000  # the default of the LIST_COUNT_CAP setting: a bounded count of 2,000 index rows costs ~5 ms


def count_cap() -> int:
    """How many matching rows a list counts exactly (setting LIST_COUNT_CAP)."""
    return int(current_app.config.get("LIST_COUNT_CAP", COUNT_CAP)) if has_app_context() else COUNT_CAP
CURSOR_ARGS = ("after", "before", "last")


class Estimate(int):
    """A count the planner estimated: shown as 「约 1,000,000」."""

    def __str__(self) -> str:
        return pick((f"约 {int(self):,}", f"about {int(self):,}"))

    __html__ = __str__


class AtLeast(int):
    """A count known only to pass the cap: shown as 「超过 2,000」."""

    def __str__(self) -> str:
        return pick((f"超过 {int(self) - 1:,}", f"over {int(self) - 1:,}"))

    __html__ = __str__


def bounded_count(session, count_query, figures: dict) -> tuple[int, dict]:
    """The number of rows `count_query` matches, exact up to COUNT_CAP, with the figures in the same statement."""
    cap = count_cap()
    rows = count_query.with_entities(literal_column("1")).limit(cap + 1).subquery()
    counted = select(func.count().label("n")).select_from(rows).subquery()
    dialect = session.get_bind().dialect
    value = counted.c.n
    estimate_sql = planner_text(count_query, dialect) if dialect.name == "postgresql" else None
    if estimate_sql is not None:
        value = case((counted.c.n > cap, func.dd_count_estimate(literal(estimate_sql))), else_=counted.c.n)
    row = session.execute(select(value.label("n"), counted.c.n.label("bounded"), *figures.values())
                          .select_from(counted)).one()
    n, bounded = int(row[0]), int(row[1])
    if bounded > cap:
        # The estimate may be off either way; it is never shown below what was counted.
        n = Estimate(max(n, cap + 1)) if estimate_sql is not None else AtLeast(cap + 1)
    return n, dict(zip(figures, row[2:]))


def planner_text(count_query, dialect) -> str | None:
    """The SQL of the matching rows with its values written in, for EXPLAIN; None when a value cannot be."""
    try:
        statement = count_query.with_entities(literal_column("1")).statement
        return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except (SQLAlchemyError, NotImplementedError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# Keyset pages
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or before) the row with this sort value and id; or the last page."""

    direction: str  # "after", "before" or "last"
    value: object = None
    row_id: int | None = None


def encode(value, row_id: int) -> str:
    """A URL-safe token for (sort value, id)."""
    if isinstance(value, (datetime, date)):
        value = {"t": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"d": str(value)}
    elif hasattr(value, "value"):  # an enum member
        value = value.value
    raw = json.dumps([value, row_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str):
    """(sort value, id) from a token, or None when the token is not one of ours."""
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not -2**31 <= row_id < 2**31:
        return None
    if isinstance(value, dict) and "t" in value:
        try:
            value = datetime.fromisoformat(value["t"])
        except (TypeError, ValueError):
            return None
    elif isinstance(value, dict) and "d" in value:
        try:
            value = Decimal(value["d"])
        except (ArithmeticError, TypeError, ValueError):
            return None
    elif value is not None and not isinstance(value, (str, int, float)):
        return None
    return value, row_id


def read_cursor(args) -> Cursor | None:
    """The cursor a list URL carries (after=, before= or last=1), or None for a numbered page."""
    if args.get("last") == "1":
        return Cursor("last")
    for direction in ("after", "before"):
        token = args.get(direction)
        if token:
            decoded = decode(token[:512])
            return Cursor(direction, *decoded) if decoded else None
    return None


def keyset_column(model, attribute):
    """The model's own NOT NULL column behind a sort attribute, or None (NULLs and joins page by OFFSET)."""
    column = attribute if hasattr(attribute, "table") else getattr(getattr(attribute, "property", None),
                                                                     "columns", [None])[0]
    if column is None or getattr(column, "table", None) is not model.__table__ or column.nullable:
        return None
    return column


def beyond(sort_column, id_column, desc: bool, value, row_id: int, forward: bool):
    """Rows after (forward) or before the row (value, id) in the order (sort, id) both ascending or descending."""
    later = (desc and forward) or (not desc and not forward)
    compare = (lambda a, b: a < b) if later else (lambda a, b: a > b)
    if sort_column is None or sort_column is id_column:
        return compare(id_column, row_id)
    return or_(compare(sort_column, value), and_(sort_column == value, compare(id_column, row_id)))
