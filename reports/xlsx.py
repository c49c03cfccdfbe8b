"""Streaming xlsx writing: constant memory, typed cells, text-safe strings, a frozen and filtered header row.

Two ways in:
- `Sheet(workbook, title, columns, lang)` for reports: each column declares its kind (text, integer, money,
  percent, date, datetime), so a cell is written by one typed call without guessing; `sheet.append(values)`
  row by row, `sheet.close()` adds the autofilter over what was written.
- `write_sheet` / `write_table` for a list of plain values whose kinds are not known in advance.

Text is always written as text (never a formula); text that a spreadsheet would read as a formula if
someone retyped it (= + - @, tab, carriage return) also gets Excel's quote prefix. Aware datetimes are
written in Beijing time (the sheet has no time zone), naive ones as given.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

from models.present import BEIJING, beijing

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset(FORMULA_PREFIXES)
MAX_ROWS = 1_048_575
MAX_TEXT = 32_767  # characters in a cell
MAX_WIDTH = 60

TEXT, INTEGER, NUMBER, MONEY, PERCENT, DATE, DATETIME, AUTO = (
    "text", "integer", "number", "money", "percent", "date", "datetime", "auto")
NUMBER_FORMATS = {INTEGER: "#,##0", NUMBER: "#,##0.##", MONEY: "#,##0.00", PERCENT: "0.0%",
                  DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm"}
DEFAULT_WIDTHS = {INTEGER: 10, NUMBER: 12, MONEY: 14, PERCENT: 10, DATE: 12, DATETIME: 17}


def open_workbook(target) -> xlsxwriter.Workbook:
    """A workbook that streams rows to disk (rows must be written in order)."""
    return xlsxwriter.Workbook(target, {"constant_memory": True, "remove_timezone": True,
                                        "strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False, "use_zip64": True})


def workbook_formats(workbook) -> dict:
    """The formats every sheet of this workbook shares, made once per workbook: {(kind, bold): Format}."""
    formats = getattr(workbook, "_dd_formats", None)
    if formats is None:
        formats = {"header": workbook.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1,
                                                  "text_wrap": True, "valign": "top"})}
        for bold in (False, True):
            for kind, number_format in NUMBER_FORMATS.items():
                formats[(kind, bold)] = workbook.add_format({"num_format": number_format, "bold": bold})
            formats[(TEXT, bold)] = workbook.add_format({"bold": True}) if bold else None
            formats[("quoted", bold)] = workbook.add_format({"quote_prefix": True, "bold": bold})
        workbook._dd_formats = formats
    return formats


def looks_like_formula(text: str) -> bool:
    """True for text a spreadsheet would take for a formula (or a command) if it were retyped."""
    return text.startswith(FORMULA_PREFIXES)


def sheet_datetime(value: datetime) -> datetime:
    """A naive datetime for the sheet: an aware one in Beijing time, a naive one as it is."""
    return value.astimezone(BEIJING).replace(tzinfo=None) if value.tzinfo is not None else value


def write_cell(sheet, row: int, col: int, value, formats: dict, bold: bool = False) -> None:
    """Write one value of a kind known only from the value; text stays text, NaN and None become empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, formats[(TEXT, bold)])
    elif isinstance(value, (int, float, Decimal)):
        sheet.write_number(row, col, float(value), formats[(NUMBER, bold)])
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, sheet_datetime(value), formats[(DATETIME, bold)])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats[(DATE, bold)])
    else:
        write_text(sheet, row, col, str(value), formats, bold)


def write_text(sheet, row: int, col: int, text: str, formats: dict, bold: bool = False) -> None:
    """Text as a string cell; formula-like text with the quote prefix, so retyping it keeps it text."""
    if text == "":
        return
    if looks_like_formula(text):
        sheet.write_string(row, col, text, formats[("quoted", bold)])
    else:
        sheet.write_string(row, col, text, formats[(TEXT, bold)])


@dataclass(frozen=True)
class Column:
    """One column of a report sheet: its header as (zh, en), the kind of its cells, its width in characters."""

    header: tuple[str, str]
    kind: str = TEXT
    width: int | None = None

    def title(self, lang: str) -> str:
        return self.header[1] if str(lang).startswith("en") else self.header[0]


class StreamingWorksheet(Worksheet):
    """xlsxwriter's worksheet that also takes a whole row whose cells are serialised already (constant_memory).

    xlsxwriter serialises each cell through several calls and regular expressions, about 4 µs a cell: over a
    minute for a million-person sheet. Sheet.append builds a row's cells itself (under 1 µs a cell) as the
    same XML xlsxwriter writes (inline strings, numbers with their style, dates as serials) and hands the row
    here: the row before it, if written through the ordinary API, is flushed first, and the sheet's dimensions
    are kept as xlsxwriter keeps them. It leans on xlsxwriter's constant-memory internals (the row file `fh`,
    `_write_single_row`, `_check_dimensions`), hence the pinned version in pyproject.toml; tests/test_reports.py
    compares both ways of writing cell by cell.
    """

    def write_serialised_row(self, row: int, first_col: int, last_col: int, cells: str) -> None:
        """Append row `row` (0-based, after every row written so far) made of `cells`, <c> elements in order."""
        if not self.constant_memory:
            raise RuntimeError("write_serialised_row needs a constant_memory workbook")
        self._write_single_row(row)  # the row before, if the ordinary API still holds it
        if self._check_dimensions(row, first_col) or self._check_dimensions(row, last_col):
            raise ValueError(f"row {row} cannot be written after row {self.previous_row}")
        self.fh.write(f'<row r="{row + 1}">{cells}</row>')


# What xlsxwriter escapes in an inline string: XML's special characters, control characters as _xHHHH_, and a
# literal _xHHHH_ (its escape escaped). Text without any of them, nearly all text, is written as it is.
NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


def xml_text(text: str) -> str:
    """Text as the body of an inline string, escaped exactly as xlsxwriter escapes it."""
    if NEEDS_ESCAPE.search(text) is None:
        return text
    text = XMLwriter._escape_control_characters(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Sheet:
    """A worksheet being streamed: a frozen, filtered header row, then typed rows in order."""

    def __init__(self, workbook, title: str, columns: Sequence[Column], lang: str = "zh"):
        self.workbook, self.columns = workbook, tuple(columns)
        self.worksheet = workbook.add_worksheet(title[:31], worksheet_class=StreamingWorksheet)
        self.formats = workbook_formats(workbook)
        self.rows = 0  # rows written below the header
        self._writers = [self._writer(c.kind) for c in self.columns]
        self._cells = [self._serialiser(c.kind) for c in self.columns]
        self._refs = [xl_col_to_name(col) for col in range(len(self.columns))]
        for col, column in enumerate(self.columns):
            title_text = column.title(lang)
            width = column.width or max(DEFAULT_WIDTHS.get(column.kind, 10), min(MAX_WIDTH, _width(title_text) + 2))
            self.worksheet.set_column(col, col, width)
            self.worksheet.write_string(0, col, title_text, self.formats["header"])
        self.worksheet.freeze_panes(1, 0)

    def append(self, values: Sequence, *, bold: bool = False) -> int:
        """Write the next row; returns its 0-based row index in the sheet."""
        if self.rows >= MAX_ROWS:
            raise ValueError(f"一个工作表最多 {MAX_ROWS} 行 / a sheet holds at most {MAX_ROWS} rows")
        self.rows += 1
        row = self.rows
        if bold:  # totals: a few rows, through xlsxwriter's own writers
            for col, value in enumerate(values):
                if value is not None:
                    self._writers[col](row, col, value, True)
            return row
        number = str(row + 1)
        cells, refs, parts = self._cells, self._refs, []
        first = last = None
        for col, value in enumerate(values):
            if value is None:
                continue
            cell = cells[col](refs[col] + number, value)
            if cell:
                parts.append(cell)
                last = col
                if first is None:
                    first = col
        if parts:
            self.worksheet.write_serialised_row(row, first, last, "".join(parts))
        return row

    def extend(self, rows: Iterable[Sequence]) -> int:
        """Write every row; returns how many rows the sheet now holds."""
        for values in rows:
            self.append(values)
        return self.rows

    def close(self) -> None:
        """Add the autofilter over the header and every written row."""
        self.worksheet.autofilter(0, 0, max(self.rows, 1), len(self.columns) - 1)

    # Serialisers per kind, picked once per column: (cell reference, value) -> a <c> element, or "" for none.
    def _serialiser(self, kind: str):
        formats = self.formats
        quoted = formats[("quoted", False)]._get_xf_index()

        search, escape = NEEDS_ESCAPE.search, xml_text

        def text(ref, value):
            if value.__class__ is not str:
                value = str(value)
            if not value:
                return ""
            if len(value) > MAX_TEXT:
                value = value[:MAX_TEXT]
            style = f' s="{quoted}"' if value[0] in FORMULA_FIRST else ""
            space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
            body = value if search(value) is None else escape(value)
            return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{body}</t></is></c>'

        def number_of(style_kind):
            style = formats[(style_kind, False)]._get_xf_index()

            def number(ref, value):
                if value.__class__ is str:  # a word in a number column
                    return text(ref, value)
                if isinstance(value, bool):
                    return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
                value = float(value)
                if not math.isfinite(value):
                    return ""
                return f'<c r="{ref}" s="{style}"><v>{value:.16G}</v></c>'
            return number

        def moment_of(style_kind, whole_days: bool):
            style = formats[(style_kind, False)]._get_xf_index()
            serial = self.worksheet._convert_date_time

            def moment(ref, value):
                if isinstance(value, datetime):
                    value = sheet_datetime(beijing(value)) if not whole_days else sheet_datetime(value)
                    if whole_days:
                        value = datetime(value.year, value.month, value.day)
                elif isinstance(value, date):
                    value = datetime(value.year, value.month, value.day)
                else:  # a masked date is only its year, as text
                    return text(ref, value)
                return f'<c r="{ref}" s="{style}"><v>{serial(value):.16G}</v></c>'
            return moment

        if kind == TEXT:
            return text
        if kind in (INTEGER, NUMBER, MONEY, PERCENT):
            return number_of(kind)
        if kind == DATE:
            return moment_of(DATE, True)
        if kind == DATETIME:
            return moment_of(DATETIME, False)
        by_type = {"number": number_of(NUMBER), "date": moment_of(DATE, True), "datetime": moment_of(DATETIME, False)}

        def auto(ref, value):
            if isinstance(value, (bool, int, float, Decimal)):
                return by_type["number"](ref, value)
            if isinstance(value, datetime):
                return by_type["datetime"](ref, value) if value.tzinfo else _naive_datetime(ref, value)
            if isinstance(value, date):
                return by_type["date"](ref, value)
            return text(ref, value)

        def _naive_datetime(ref, value):  # an auto cell's naive datetime is written as given
            style = formats[(DATETIME, False)]._get_xf_index()
            return f'<c r="{ref}" s="{style}"><v>{self.worksheet._convert_date_time(value):.16G}</v></c>'
        return auto

    # Writers per kind for the totals rows, through xlsxwriter's public API.
    def _writer(self, kind: str):
        sheet, formats = self.worksheet, self.formats
        if kind == TEXT:
            return lambda row, col, value, bold: write_text(sheet, row, col, value if isinstance(value, str)
                                                            else str(value), formats, bold)
        if kind in (INTEGER, NUMBER, MONEY, PERCENT):
            def number(row, col, value, bold):
                if isinstance(value, str):  # a word in a number column (a masked figure, "—")
                    write_text(sheet, row, col, value, formats, bold)
                elif not (isinstance(value, float) and not math.isfinite(value)):
                    sheet.write_number(row, col, float(value), formats[(kind, bold)])
            return number
        if kind == DATE:
            def day(row, col, value, bold):
                if isinstance(value, datetime):
                    value = sheet_datetime(value)
                    value = datetime(value.year, value.month, value.day)
                elif isinstance(value, date):
                    value = datetime(value.year, value.month, value.day)
                else:
                    return write_text(sheet, row, col, str(value), formats, bold)
                sheet.write_datetime(row, col, value, formats[(DATE, bold)])
            return day
        if kind == DATETIME:
            def moment(row, col, value, bold):
                if isinstance(value, datetime):
                    sheet.write_datetime(row, col, sheet_datetime(beijing(value)), formats[(DATETIME, bold)])
                else:
                    write_text(sheet, row, col, str(value), formats, bold)
            return moment
        return lambda row, col, value, bold: write_cell(sheet, row, col, value, formats, bold)


def _width(text: str) -> int:
    """Display width: a Chinese character takes two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_sheet(workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Add a sheet with a bold header row and the rows (kinds taken from the values); returns the row count."""
    sheet = Sheet(workbook, title, [Column((str(h), str(h)), AUTO) for h in headers])
    count = sheet.extend(rows)
    sheet.close()
    return count


def write_table(target, title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> int:
    """One-sheet workbook at `target` (path or binary file object)."""
    workbook = open_workbook(target)
    try:
        return write_sheet(workbook, title, headers, rows)
    finally:
        workbook.close()
