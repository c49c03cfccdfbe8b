"""Streaming xlsx writing: constant memory, text-safe cells, one header row."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter

FORMULA_PREFIXES = ("=", "+", "-", "@")
MAX_ROWS = 1_048_575


def open_workbook(target) -> xlsxwriter.Workbook:
    """A workbook that streams rows to disk (rows must be written in order)."""
    return xlsxwriter.Workbook(target, {"constant_memory": True, "remove_timezone": True,
                                        "strings_to_numbers": False, "strings_to_formulas": False})


def write_cell(sheet, row: int, col: int, value, formats: dict) -> None:
    """Write one value; text that looks like a formula stays text, NaN becomes empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float, Decimal)):
        sheet.write_number(row, col, float(value))
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats["date"])
    else:
        sheet.write_string(row, col, str(value))


def write_sheet(workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Add a sheet with a bold header row and the rows; returns how many rows were written."""
    sheet = workbook.add_worksheet(title[:31])
    formats = {"header": workbook.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1}),
               "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})}
    for col, header in enumerate(headers):
        sheet.write_string(0, col, str(header), formats["header"])
        sheet.set_column(col, col, max(10, min(40, len(str(header)) * 2 + 4)))
    sheet.freeze_panes(1, 0)
    count = 0
    for count, values in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise ValueError(f"一个工作表最多 {MAX_ROWS} 行")
        for col, value in enumerate(values):
            write_cell(sheet, count, col, value, formats)
    return count


def write_table(target, title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> int:
    """One-sheet workbook at `target` (path or binary file object)."""
    workbook = open_workbook(target)
    try:
        return write_sheet(workbook, title, headers, rows)
    finally:
        workbook.close()
