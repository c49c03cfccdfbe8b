"""The list search box: what a person types, turned into index-backed conditions per column.

How a column is searched is declared on its view (views/listing.py reads these):
    search_prefix    by its beginning (person names)              PostgreSQL LIKE 'x%' on text_pattern_ops,
                                                                   SQLite a range col >= 'x' AND col < 'y'
    search_anywhere  (of search_prefix) by any part (organisation names)   PostgreSQL ILIKE '%x%' on a pg_trgm
                                                                   GIN index; SQLite a scan of the names
    search_exact     exactly (codes)
    search_leading   (of search_exact) also by a leading part of LEADING_MIN characters or more, upper case,
                     without spaces and dashes (USCCs, mobiles)
    search_casefold  (of search_exact) case-insensitively (ID numbers): upper(col) = 'X', an expression index
"""
from __future__ import annotations

import re

from sqlalchemy import and_, func

from views.common import clean_text, escape_like

LEADING_MIN = 6
# A number typed the way people write phone numbers: '138 0013-8000', '+86 138-0013-8000'.
NUMBER_AS_TYPED = re.compile(r"\+?\d[\d\s\-]*\d")
COUNTRY_CODE = re.compile(r"^\+86(?=\d{11}$)")
LAST_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)

ANYWHERE, PREFIX, LEADING, CASEFOLD, EXACT = "anywhere", "prefix", "leading", "casefold", "exact"
HOW_SHOWN = {ANYWHERE: ("（任意部分）", " (any part)"), PREFIX: ("（开头）", " (beginning)"),
             LEADING: (f"（前{LEADING_MIN}位起）", f" (first {LEADING_MIN}+ characters)"),
             CASEFOLD: ("", ""), EXACT: ("", "")}


def search_terms(search: str | None) -> list[str]:
    """The words of a search, each to be matched; a number typed with spaces or dashes is one word."""
    text = clean_text(search).strip()
    if NUMBER_AS_TYPED.fullmatch(text):
        return [re.sub(r"[\s\-]", "", text)]
    return text.split()


def as_code(term: str) -> str:
    """A code or mobile as stored: upper case, without dashes, without a +86 before a mobile."""
    return COUNTRY_CODE.sub("", term.replace("-", "").upper())


def following(term: str) -> str | None:
    """The smallest string after every string that starts with `term` (code-point order), or None."""
    point = ord(term[-1]) + 1
    if point in SURROGATES:
        point = SURROGATES.stop
    return term[:-1] + chr(point) if point <= LAST_CODE_POINT else None


def starts_with(column, term: str, dialect: str):
    """col starts with term, as each database's index serves it."""
    if dialect == "postgresql":
        return column.like(escape_like(term) + "%", escape="\\")  # text_pattern_ops
    # SQLite uses no index for LIKE (case-insensitive by default); it does for a range of its binary order.
    upper = following(term)
    return column >= term if upper is None else and_(column >= term, column < upper)


def contains(column, term: str, dialect: str):
    """col contains term, case-insensitively for Latin letters."""
    pattern = "%" + escape_like(term) + "%"
    if dialect == "postgresql" and term.lower() != term.upper():
        return column.ilike(pattern, escape="\\")  # pg_trgm's gin_trgm_ops serves ILIKE
    # Chinese has no case, and LIKE reads it three times faster than ILIKE; gin_trgm_ops serves LIKE too.
    # SQLite's LIKE ignores ASCII case; it scans the column (a few thousand organisations).
    return column.like(pattern, escape="\\")


def column_condition(column, how: str, term: str, dialect: str):
    """The condition one typed word puts on one column."""
    if how == ANYWHERE:
        return contains(column, term, dialect)
    if how == PREFIX:
        return starts_with(column, term, dialect)
    if how == LEADING:
        code = as_code(term)
        return starts_with(column, code, dialect) if len(code) >= LEADING_MIN else column == code
    if how == CASEFOLD:
        return func.upper(column) == term.upper()
    return column == term


def describe(columns: list[tuple[str, str]], english: bool) -> str:
    """What the box searches: '单位名称（任意部分）、统一社会信用代码或联系人手机（前6位起）'.

    `columns` is [(label, how)]; neighbours searched the same way share one remark.
    """
    groups: list[tuple[list[str], str]] = []
    for label, how in columns:
        if groups and groups[-1][1] == how:
            groups[-1][0].append(label)
        else:
            groups.append(([label], how))
    joiner, last, sep = (", ", " or ", "; ") if english else ("、", "或", "、")
    parts = []
    for labels, how in groups:
        names = labels[0] if len(labels) == 1 else joiner.join(labels[:-1]) + last + labels[-1]
        parts.append(names + HOW_SHOWN[how][1 if english else 0])
    return sep.join(parts)
