"""The shared reader: an uploaded xlsx or csv becomes sheets of text rows keyed by field, or a clear refusal.

xlsx is read by pandas with the calamine engine, keeping each cell's type (dtype=object) so that a number
where text must be, or an Excel date serial, can be told and refused; every value then becomes text here.
csv may be UTF-8 (with or without BOM) or GBK/GB18030, as Excel in China saves it. Headers are matched
after NFKC (full-width characters, surrounding and inner spaces tolerated); English headers are accepted.
"""
from __future__ import annotations

import re

import csv
import io
import math
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePath

from python_calamine import SheetVisibleEnum

from importers import structure
from importers.columns import CODE, DATE, DATETIME, Column, SheetSpec, header_key
from importers.problems import CellError, FileProblem, Problem, file_problem

HEADER_SEARCH_ROWS = 20  # a title or a note may stand above the header row
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx
EXCEL_EPOCH = date(1899, 12, 30)
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 reads every GBK file


@dataclass
class Row:
    """A data row: its 0-based index in the sheet as read, and its text per field ('' when empty)."""

    index: int
    values: dict[str, str]
    is_total: bool = False
    bad: frozenset[str] = frozenset()  # fields whose cell the reader refused (its problem is recorded already)

    @property
    def number(self) -> int:
        """The row number a spreadsheet shows (1-based)."""
        return self.index + 1


@dataclass
class Sheet:
    """One sheet read: every row as it was (for the error report), where the header is, and the data rows."""

    spec: SheetSpec
    name: str
    raw: list[list]
    header_row: int
    columns: dict[str, int]
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, row: Row | int | None, field_name: str | None, kind: str, zh: str, en: str) -> Problem:
        """A problem at a row and field of this sheet (the column found for the field)."""
        index = row.index if isinstance(row, Row) else row
        return Problem(kind, (zh, en), sheet=self.name, row=index, column=self.columns.get(field_name),
                       field=field_name)


@dataclass
class Upload:
    """What was read: the file's name and type, its sheets by spec (Chinese name), notices that block nothing."""

    filename: str
    file_type: str
    sheets: dict[str, Sheet]
    notices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for sheet in self.sheets.values() for p in sheet.problems]

    @property
    def rows_read(self) -> int:
        return sum(len([r for r in s.rows if not r.is_total]) for s in self.sheets.values())


def read_upload(data: bytes, filename: str, specs: tuple[SheetSpec, ...]) -> Upload:
    """Read the upload for these sheets; FileProblem when the file as a whole cannot be imported."""
    if not data:
        raise file_problem("file", "文件为空", "The file is empty")
    if data.startswith(OLE2_MAGIC):
        raise file_problem("file", "这是旧版 .xls 工作簿或设置了密码的工作簿，请在 Excel 中另存为 .xlsx（不设密码）后再导入",
                           "This is an old .xls workbook or a password-protected one: save it as .xlsx (without a "
                           "password) and import that")
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, filename, specs)
    if b"\x00" in data[:4096]:  # neither a workbook nor text: an image, a pdf, a Word file...
        raise file_problem("file", "文件类型不支持：请上传 Excel 工作簿（.xlsx）或 CSV 文件",
                           "Unsupported file type: upload an Excel workbook (.xlsx) or a CSV file")
    if PurePath(filename or "").suffix.lower() in (".xlsx", ".xlsm"):
        raise file_problem("file", "文件扩展名为 .xlsx，但内容不是 Excel 工作簿（文件可能已损坏）",
                           "The file is named .xlsx but is not an Excel workbook (it may be damaged)")
    return _read_csv(data, filename, specs)


# --- xlsx -------------------------------------------------------------------------------------------

def _read_xlsx(data: bytes, filename: str, specs: tuple[SheetSpec, ...]) -> Upload:
    import pandas as pd

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise file_problem("file", "这是一个压缩文件，但不是 Excel 工作簿（.xlsx）",
                                   "This is a zip archive, not an Excel workbook (.xlsx)")
        book = pd.ExcelFile(io.BytesIO(data), engine="calamine")
    except FileProblem:
        raise
    except Exception:  # zipfile, calamine and pandas raise many kinds for a damaged file
        raise file_problem("file", "文件已损坏或不是有效的 Excel 工作簿，无法读取",
                           "The file is damaged or not a valid Excel workbook") from None
    hidden = {m.name for m in book.book.sheets_metadata if m.visible != SheetVisibleEnum.Visible}
    frames: dict[str, list[list]] = {}

    def frame(name: str) -> list[list]:
        if name not in frames:
            try:
                frames[name] = pd.read_excel(book, sheet_name=name, header=None, dtype=object).values.tolist()
            except Exception:
                raise file_problem("file", f"工作表「{name}」已损坏，无法读取",
                                   f"Sheet {name} is damaged and cannot be read", sheet=name) from None
        return frames[name]

    missing = [s for s in specs if s.names and not any(s.matches_name(n) for n in book.sheet_names)]
    if missing:
        raise FileProblem(*(Problem("sheet", (f"缺少工作表「{s.zh}」（现有：{'、'.join(book.sheet_names)}）",
                                              f"Sheet {s.zh} ({s.en}) is missing (the workbook has: "
                                              f"{', '.join(book.sheet_names)})")) for s in missing))
    chosen: list[tuple[SheetSpec, str, int, dict]] = []
    for spec in specs:
        names = [n for n in book.sheet_names if spec.matches_name(n)] if spec.names else list(book.sheet_names)
        # Visible sheets first: a hidden sheet with the headers is named in the refusal, never read silently.
        name, header_row, columns = _find_header(spec, sorted(names, key=lambda n: n in hidden), frame)
        if name in hidden:
            raise file_problem("hidden_sheet", f"工作表「{name}」是隐藏的，请在 Excel 中取消隐藏并确认其内容后再导入",
                               f"Sheet {name} is hidden: unhide it in Excel and check its contents, then import",
                               sheet=name)
        chosen.append((spec, name, header_row, columns))
    shapes = structure.scan(data, [name for _, name, _, _ in chosen])
    sheets = {spec.zh: _sheet(spec, name, frame(name), header_row, columns, shapes[name])
              for spec, name, header_row, columns in chosen}
    notices = [(f"隐藏的工作表「{n}」未导入", f"Hidden sheet {n} was not imported") for n in sorted(hidden)]
    return Upload(filename, "xlsx", sheets, notices)


# --- csv --------------------------------------------------------------------------------------------

def _read_csv(data: bytes, filename: str, specs: tuple[SheetSpec, ...]) -> Upload:
    text = _decode(data)
    if len(specs) > 1:
        raise file_problem("sheet", f"该导入需要含{'、'.join(f'「{s.zh}」' for s in specs)}工作表的 Excel 工作簿（.xlsx），CSV 文件只有一张表",
                           f"This import needs an Excel workbook (.xlsx) with the sheets "
                           f"{', '.join(s.zh for s in specs)}; a CSV file holds one table")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    raw = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    name = PurePath(filename or "data.csv").stem or "CSV"
    spec = specs[0]
    _, header_row, columns = _find_header(spec, [name], lambda _: raw)
    return Upload(filename, "csv", {spec.zh: _sheet(spec, name, raw, header_row, columns, structure.SheetStructure())})


def _decode(data: bytes) -> str:
    for encoding in TEXT_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise file_problem("file", "无法识别文件编码：CSV 文件请保存为 UTF-8 或 GBK 编码，或上传 Excel 工作簿（.xlsx）",
                       "Unknown text encoding: save the CSV as UTF-8 or GBK, or upload an Excel workbook (.xlsx)")


# --- the header row ---------------------------------------------------------------------------------

def _find_header(spec: SheetSpec, names: list[str], frame) -> tuple[str, int, dict[str, int]]:
    """(sheet name, header row, {field: column}) of the first sheet whose header has every required column."""
    best = None  # (matched count, name, row, columns)
    for name in names:
        raw = frame(name)
        for row_index, row in enumerate(raw[:HEADER_SEARCH_ROWS]):
            columns, duplicate = _match_columns(spec, row)
            if duplicate:
                raise file_problem("header", f"工作表「{name}」的表头中「{duplicate.zh}」出现了不止一次",
                                   f"Sheet {name}: the header {duplicate.zh} ({duplicate.en}) appears more than once",
                                   sheet=name)
            if all(c.field in columns for c in spec.columns if c.required):
                return name, row_index, columns
            if columns and (best is None or len(columns) > best[0]):
                best = (len(columns), name, row_index, columns)
    if best is None:
        if not any(_filled(row) for name in names for row in frame(name)):
            raise file_problem("file", "文件中没有数据（工作表为空）", "The file holds no data (the sheet is empty)")
        expected = "、".join(c.zh for c in spec.columns if c.required)
        raise file_problem("header", f"未找到表头行：应包含 {expected}（请使用导入模板）",
                           f"No header row found: it should hold {', '.join(c.en for c in spec.columns if c.required)} "
                           f"({expected}); use the import template")
    _, name, _, columns = best
    missing = [c for c in spec.columns if c.required and c.field not in columns]
    raise file_problem("header", f"工作表「{name}」缺少表头：{'、'.join(c.zh for c in missing)}",
                       f"Sheet {name} lacks the headers: {', '.join(f'{c.zh} ({c.en})' for c in missing)}", sheet=name)


def _match_columns(spec: SheetSpec, row: list) -> tuple[dict[str, int], Column | None]:
    """{field: column index} of the headers in this row, and a column found twice (or None)."""
    keys = {header_key(v): i for i, v in reversed(list(enumerate(row))) if _filled(v)}
    seen_keys = [header_key(v) for v in row if _filled(v)]
    columns = {}
    for column in spec.columns:
        hits = [k for k in column.keys() if k in keys]
        if not hits:
            continue
        if sum(seen_keys.count(k) for k in hits) > 1:
            return columns, column
        columns[column.field] = keys[hits[0]]
    return columns, None


# --- rows -------------------------------------------------------------------------------------------

def _filled(value) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _sheet(spec: SheetSpec, name: str, raw: list[list], header_row: int, columns: dict[str, int],
           shape: structure.SheetStructure) -> Sheet:
    """The data rows below the header as text, with the cell problems found on the way."""
    sheet = Sheet(spec, name, raw, header_row, columns)
    wanted = [(spec.column(f), i) for f, i in columns.items()]
    for index in range(header_row + 1, len(raw)):
        cells = raw[index]
        if not any(_filled(v) for v in cells):
            continue
        values, problems = {}, []
        for column, i in wanted:
            value = cells[i] if i < len(cells) else None
            if type(value) is str:  # the common case, kept cheap: a 100,000-row sheet has a million cells
                values[column.field] = value.strip()
                continue
            try:
                values[column.field] = cell_text(value, column)
            except CellError as error:
                values[column.field] = ""
                problems.append(Problem(error.kind, _cell_message(column, error), sheet=name, row=index, column=i,
                                        field=column.field))
        row = Row(index, values, is_total=bool(spec.is_total_row and spec.is_total_row(values)),
                  bad=frozenset(p.field for p in problems))
        if not row.is_total and (shape.formulas or shape.merges):
            problems += _structure_problems(sheet, row, wanted, shape)
        sheet.rows.append(row)
        sheet.problems += problems
    return sheet


def _cell_message(column: Column, error: CellError) -> tuple[str, str]:
    return f"「{column.zh}」{error.message[0]}", f"{column.en}: {error.message[1]}"


def _structure_problems(sheet: Sheet, row: Row, wanted, shape: structure.SheetStructure) -> list[Problem]:
    """Formula cells and merged ranges touching this row's expected columns."""
    problems = []
    for column, i in wanted:
        if (row.index, i) in shape.formulas:
            cell = f"{structure.column_letters(i)}{row.number}"
            problems.append(Problem("formula", (
                f"「{column.zh}」单元格 {cell} 是公式，请复制后「选择性粘贴 → 数值」再导入",
                f"{column.en}: cell {cell} holds a formula; copy it and paste as values, then import"),
                sheet=sheet.name, row=row.index, column=i, field=column.field))
    for r1, c1, r2, c2 in shape.merges:
        hit = [(column, i) for column, i in wanted if c1 <= i <= c2]
        if r1 <= row.index <= r2 and hit and r2 > sheet.header_row:
            ref = f"{structure.column_letters(c1)}{r1 + 1}:{structure.column_letters(c2)}{r2 + 1}"
            column, i = hit[0]
            problems.append(Problem("merged", (
                f"{ref} 是合并单元格，请取消合并并在每个单元格中填写完整",
                f"{ref} are merged cells: unmerge them and fill in every cell"),
                sheet=sheet.name, row=row.index, column=i, field=column.field))
    return problems


def cell_text(value, column: Column) -> str:
    """A cell's value as text for its column; CellError for a number that lost digits or a date serial."""
    if isinstance(value, str):
        return value.strip()
    if not _filled(value):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _number_text(value, column)
    if isinstance(value, datetime):
        if column.kind == DATETIME or (value.hour, value.minute, value.second) != (0, 0, 0):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


MAINLAND_MOBILE = re.compile(r"1\d{10}")


def _number_text(value: int | float, column: Column) -> str:
    text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)
    if column.kind == CODE and column.field.endswith("mobile") and MAINLAND_MOBILE.fullmatch(text):
        return text  # 11 digits starting with 1: a number cell holds them exactly, nothing was lost
    if column.kind == CODE:
        raise CellError("number_stored", f"被存成了数字（{text}）：Excel 只保留 15 位有效数字并会去掉开头的 0，"
                                         "号码可能已不完整；请将该列设为文本格式后重新填写",
                        f"was stored as a number ({text}): Excel keeps 15 significant digits and drops leading "
                        "zeros, so the number may be incomplete; format the column as text and type it again")
    if column.kind in (DATE, DATETIME):
        hint = serial_date(value)
        shown = f"，对应 {hint}" if hint else ""
        raise CellError("excel_serial", f"是数字 {text}（Excel 日期序号{shown}）：请将单元格设为日期格式，或填写 2025-11-05 这样的日期",
                        f"is the number {text} (an Excel date serial{f' for {hint}' if hint else ''}): format the "
                        "cell as a date, or write a date such as 2025-11-05")
    return text


def serial_date(value) -> str | None:
    """The date an Excel serial number stands for (1900 date system), or None when it is not a plausible one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not 1 <= number < 2_958_466:
        return None
    return (EXCEL_EPOCH + timedelta(days=int(number))).isoformat()
