"""What can be wrong with an uploaded file: problem kinds, one problem per cell, row or file, in two languages."""
from __future__ import annotations

from dataclasses import dataclass

Text = tuple[str, str]  # (Chinese, English)

# Problem kinds, in the order the summary lists them.
KINDS: dict[str, Text] = {
    "file": ("文件无法读取", "File cannot be read"),
    "sheet": ("缺少工作表", "Missing sheet"),
    "hidden_sheet": ("隐藏的工作表", "Hidden sheet"),
    "header": ("表头错误", "Header problem"),
    "number_stored": ("编号被存成数字", "Number stored as a number"),
    "excel_serial": ("日期为Excel序号", "Date as an Excel serial"),
    "formula": ("公式单元格", "Formula cell"),
    "merged": ("合并单元格", "Merged cells"),
    "required": ("必填项为空", "Required value missing"),
    "invalid": ("格式或取值错误", "Invalid value"),
    "duplicate_file": ("文件内重复", "Duplicate within the file"),
    "duplicate_db": ("与已有数据重复", "Already in the database"),
    "scope": ("超出权限范围", "Outside your scope"),
    "not_found": ("记录不存在", "Not found"),
    "state": ("状态不符", "Wrong state"),
    "quota": ("额度不足", "Quota exceeded"),
    "total": ("合计不符", "Total does not match"),
    "amount": ("金额不符", "Amount does not match"),
    "refused": ("业务规则不允许", "Refused by a rule"),
}
# The engine's refusal codes (models.engine.Refusal.code) as problem kinds.
REFUSAL_KINDS = {"not_visible": "scope", "state": "state", "quota": "quota"}


def pick(text: Text, lang: str) -> str:
    """The member of a (zh, en) pair for the language ("zh" or "en")."""
    return text[1] if str(lang or "zh").startswith("en") else text[0]


def domain_text(message: str) -> Text:
    """A domain refusal (its messages are Chinese) as a pair: English readers get it under an English heading."""
    return message, message


@dataclass(frozen=True)
class Problem:
    """One thing wrong: in a sheet, at a row (0-based index of the sheet as read) and a column, or in the whole file."""

    kind: str
    message: Text
    sheet: str | None = None
    row: int | None = None
    column: int | None = None
    field: str | None = None

    def text(self, lang: str) -> str:
        """The message in the language; a domain message keeps its Chinese under the kind's English name."""
        if str(lang).startswith("en") and self.message[0] == self.message[1] and not self.message[1].isascii():
            return f"{KINDS[self.kind][1]}: {self.message[0]}"
        return pick(self.message, lang)

    def where(self, lang: str) -> str:
        """'Sheet 人员, row 12' in the language ('' for a file-level problem)."""
        if self.row is None:
            return pick((f"工作表「{self.sheet}」", f"sheet {self.sheet}"), lang) if self.sheet else ""
        return pick((f"工作表「{self.sheet}」第 {self.row + 1} 行", f"sheet {self.sheet}, row {self.row + 1}"), lang)


class FileProblem(Exception):
    """The file as a whole cannot be imported (corrupt, wrong type, empty, missing sheets or headers)."""

    def __init__(self, *problems: Problem):
        super().__init__(problems[0].message[0] if problems else "")
        self.problems = list(problems)


def file_problem(kind: str, zh: str, en: str, sheet: str | None = None) -> FileProblem:
    """A FileProblem of one problem."""
    return FileProblem(Problem(kind, (zh, en), sheet=sheet))


class CellError(Exception):
    """A value a parser refuses: its problem kind and message; the reader or importer adds where it was."""

    def __init__(self, kind: str, zh: str, en: str):
        super().__init__(zh)
        self.kind, self.message = kind, (zh, en)
