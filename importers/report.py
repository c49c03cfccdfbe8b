"""The error report: the uploaded sheets as they were, bad cells highlighted, a column saying why, and a summary.

Written with xlsxwriter in constant memory, row by row (a 100,000-row upload gives a 100,000-row report).
Text is written as text, never as a formula, whatever it starts with.
"""
from __future__ import annotations

import io
import math
from collections import defaultdict
from datetime import date, datetime

import xlsxwriter

from importers.problems import KINDS, pick
from importers.structure import column_letters

MAX_CELL_TEXT = 32_767  # what an xlsx cell holds
SUMMARY_LISTED = 50_000  # problems listed one per line on the summary sheet


def error_report(result) -> bytes:
    """The report of an ImportResult with problems, as xlsx bytes (in the result's language where it has one)."""
    lang = _lang(result)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True, "strings_to_formulas": False,
                                     "strings_to_numbers": False, "strings_to_urls": False})
    formats = {"bad": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
               "reason": book.add_format({"font_color": "#9C0006", "text_wrap": False}),
               "header": book.add_format({"bold": True, "bg_color": "#DDEBF7"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
               "title": book.add_format({"bold": True, "font_size": 13})}
    _summary_sheet(book, result, lang, formats)
    if result.upload is not None:
        by_sheet = defaultdict(list)
        for problem in result.problems:
            if problem.sheet is not None and problem.row is not None:
                by_sheet[problem.sheet].append(problem)
        for sheet in result.upload.sheets.values():
            _data_sheet(book, sheet, by_sheet.get(sheet.name, []), lang, formats)
    book.close()
    return out.getvalue()


def _lang(result) -> str:
    return getattr(result, "lang", None) or "zh"


def _summary_sheet(book, result, lang: str, formats) -> None:
    sheet = book.add_worksheet(pick(("错误汇总", "Summary"), lang))
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 18)
    sheet.set_column(3, 3, 80)
    r = 0
    sheet.write_string(r, 0, f"{pick(result.title, lang)} — {pick(('导入错误报告', 'import error report'), lang)}",
                       formats["title"])
    r += 1
    sheet.write_string(r, 0, pick(("文件", "File"), lang))
    sheet.write_string(r, 1, result.filename or "")
    r += 1
    for label, value in ((("读取行数", "Rows read"), result.rows_read), (("有效行数", "Rows valid"), result.rows_valid),
                         (("错误数", "Errors"), len(result.problems))):
        sheet.write_string(r, 0, pick(label, lang))
        sheet.write_number(r, 1, value)
        r += 1
    sheet.write_string(r, 0, pick(("未导入任何数据：请按各工作表中标红的单元格和「错误原因」列修改后重新导入",
                                   "Nothing was imported: correct the cells marked red (see the Errors column "
                                   "of each sheet) and import again"), lang))
    r += 2
    sheet.write_string(r, 0, pick(("错误类型", "Kind of error"), lang), formats["header"])
    sheet.write_string(r, 1, pick(("数量", "Count"), lang), formats["header"])
    r += 1
    for kind, n in result.errors_by_kind():
        sheet.write_string(r, 0, pick(KINDS[kind], lang))
        sheet.write_number(r, 1, n)
        r += 1
    r += 1
    for i, label in enumerate((("工作表", "Sheet"), ("行", "Row"), ("列", "Column"), ("错误原因", "Reason"))):
        sheet.write_string(r, i, pick(label, lang), formats["header"])
    r += 1
    for problem in result.problems[:SUMMARY_LISTED]:
        sheet.write_string(r, 0, problem.sheet or "")
        if problem.row is not None:
            sheet.write_number(r, 1, problem.row + 1)
        if problem.column is not None:
            sheet.write_string(r, 2, column_letters(problem.column))
        sheet.write_string(r, 3, problem.text(lang)[:MAX_CELL_TEXT], formats["reason"])
        r += 1


def _data_sheet(book, sheet, problems, lang: str, formats) -> None:
    """The sheet's rows as read; the reasons in a column after the last one."""
    out = book.add_worksheet(sheet.name[:31])
    width = max((len(r) for r in sheet.raw), default=0)
    reason_column = max(width, max(sheet.columns.values(), default=-1) + 1)
    bad_cells = {(p.row, p.column) for p in problems if p.column is not None}
    reasons = defaultdict(list)
    for p in problems:
        reasons[p.row].append(p.text(lang))
    widths = {i: sheet.spec.column(f).width for f, i in sheet.columns.items()}
    for i, w in widths.items():
        out.set_column(i, i, w)
    out.set_column(reason_column, reason_column, 60)
    out.freeze_panes(sheet.header_row + 1, 0)
    for r, cells in enumerate(sheet.raw):
        for c, value in enumerate(cells):
            _write(out, r, c, value, formats["bad"] if (r, c) in bad_cells else None, formats)
        if r == sheet.header_row:
            out.write_string(r, reason_column, pick(("错误原因", "Errors"), lang), formats["header"])
        elif r in reasons:
            out.write_string(r, reason_column, "；".join(reasons[r])[:MAX_CELL_TEXT], formats["reason"])
            for c in range(len(cells), reason_column):  # a bad cell the row did not even reach
                if (r, c) in bad_cells:
                    out.write_blank(r, c, None, formats["bad"])


def _write(out, r: int, c: int, value, cell_format, formats) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if cell_format is not None:
            out.write_blank(r, c, None, cell_format)
        return
    if isinstance(value, bool):
        out.write_boolean(r, c, value, cell_format)
    elif isinstance(value, (int, float)):
        out.write_number(r, c, value, cell_format)
    elif isinstance(value, datetime):
        out.write_datetime(r, c, value.replace(tzinfo=None), cell_format or formats["datetime"])
    elif isinstance(value, date):
        out.write_datetime(r, c, datetime(value.year, value.month, value.day), cell_format or formats["date"])
    else:
        out.write_string(r, c, str(value)[:MAX_CELL_TEXT], cell_format)
