"""Downloadable templates: the headers, a sample row, dropdowns on enumerated columns, code columns as text."""
from __future__ import annotations

import io

import xlsxwriter

from importers.columns import CODE, DATE, NUMBER
from importers.problems import pick

VALIDATED_ROWS = 10_000  # rows below the header that carry the dropdowns and formats
INLINE_LIST_LIMIT = 255  # characters an inline dropdown list may hold; longer lists live on the options sheet


def template(importer, lang: str = "zh", choices: dict[str, list[str]] | None = None) -> bytes:
    """The importer's template as xlsx bytes; `choices` adds dropdown options read from the database."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    options_sheet = None
    option_column = 0
    for spec in importer.sheets:
        sheet = book.add_worksheet(pick((spec.zh, spec.en), lang) if spec.names else spec.zh)
        for i, column in enumerate(spec.columns):
            cell_format = text if column.kind == CODE else day if column.kind == DATE else None
            sheet.set_column(i, i, column.width, cell_format)
            sheet.write_string(0, i, pick((column.zh, column.en), lang), header)
            _write_sample(sheet, i, column, text)
            values = list((choices or {}).get(column.field) or column.choices)
            if not values:
                continue
            if len(",".join(values)) <= INLINE_LIST_LIMIT:
                source = values
            else:
                if options_sheet is None:
                    options_sheet = book.add_worksheet(pick(("选项", "Options"), lang))
                options_sheet.write_string(0, option_column, column.zh, header)
                for r, value in enumerate(values, 1):
                    options_sheet.write_string(r, option_column, value)
                letters = xlsxwriter.utility.xl_col_to_name(option_column, col_abs=True)
                source = f"='{options_sheet.name}'!{letters}$2:{letters}${len(values) + 1}"
                option_column += 1
            sheet.data_validation(1, i, VALIDATED_ROWS, i, {
                "validate": "list", "source": source,
                "error_title": pick(("取值无效", "Invalid value"), lang),
                "error_message": pick(("请从下拉列表中选择", "Choose a value from the list"), lang)})
        sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _write_sample(sheet, i: int, column, text_format) -> None:
    if not column.sample:
        return
    if column.kind == NUMBER:
        sheet.write_number(1, i, float(column.sample))
    else:
        sheet.write_string(1, i, column.sample, text_format if column.kind == CODE else None)


def template_filename(importer, lang: str = "zh") -> str:
    """'导入模板-批量注册.xlsx' / 'import-template-registration.xlsx'."""
    return pick((f"导入模板-{importer.title[0]}.xlsx", f"import-template-{importer.kind}.xlsx"), lang)

