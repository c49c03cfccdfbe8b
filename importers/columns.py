"""Columns and sheets an importer expects: Chinese headers, English aliases, what a cell may hold."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

# How a cell's value is turned into text (importers.reader):
TEXT = "text"  # anything; numbers without a trailing .0, dates as YYYY-MM-DD
CODE = "code"  # ID numbers, USCCs, mobiles, references: a number cell has lost digits and is refused
DATE = "date"  # a date cell or YYYY-MM-DD text; a plain number is an Excel serial and is refused
DATETIME = "datetime"  # a date-time cell or 'YYYY-MM-DD HH:MM[:SS]' text; a plain number is refused
NUMBER = "number"  # a number cell or its text


def header_key(text) -> str:
    """A header as compared: half-width (NFKC), no spaces, lower case, without a trailing required mark (*)."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or ""))).lower()
    return key.rstrip("*")


@dataclass(frozen=True)
class Column:
    """One expected column: its field name, Chinese header, English header and other accepted headers."""

    field: str
    zh: str
    en: str
    kind: str = TEXT
    required: bool = True  # the header must be there (whether each cell must be filled is the importer's rule)
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()  # offered as a dropdown in the template
    sample: str = ""
    width: int = 16

    def keys(self) -> set[str]:
        return {header_key(h) for h in (self.zh, self.en, *self.aliases)}


@dataclass(frozen=True)
class SheetSpec:
    """A sheet an importer reads: its names (empty: the first visible sheet with the headers) and columns.

    `is_total_row(values)` marks a totals row (the recruitment table's 合 计): a merged label or a SUM formula
    there is what such a row is, not a problem.
    """

    zh: str
    en: str
    columns: tuple[Column, ...]
    names: tuple[str, ...] = ()
    is_total_row: Callable[[dict], bool] | None = field(default=None, compare=False)

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)

    def matches_name(self, sheet_name: str) -> bool:
        return header_key(sheet_name) in {header_key(n) for n in self.names}
