"""Spreadsheets built in code for the importer tests: xlsx by openpyxl (formulas, merges, hidden sheets), csv in any encoding."""
from __future__ import annotations

import csv
import io

import openpyxl
from stdnum.cn import ric

from factories import make_uscc

PERSON_HEADER = ["统一社会信用代码", "姓名", "性别", "人员类型", "证件类型", "证件号码", "出生日期", "手机", "邮箱", "职务",
                 "人员标签", "入场日期", "领取方式"]
ORG_HEADER = ["单位名称", "统一社会信用代码", "单位类别", "交易分团", "联系人", "联系人手机", "联系人邮箱", "采购意向"]


def xlsx(sheets: dict[str, list[list]], *, hidden=(), merges: dict[str, list[str]] | None = None) -> bytes:
    """A workbook with these sheets (rows of values; '=...' strings become formulas), some hidden, some cells merged."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for ref in (merges or {}).get(name, []):
            sheet.merge_cells(ref)
        if name in hidden:
            sheet.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    """Rows as csv text in the encoding ('utf-8-sig' writes a BOM, 'gbk' as Excel in China saves)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def resident_id(n: int, birth: str = "19900101", county: str = "110105") -> str:
    """A valid 18-digit resident ID (county known to stdnum) with a serial number n (0-999)."""
    body = f"{county}{birth}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def org_row(name: str, uscc: str, sub: str, **kw) -> list:
    values = {"单位名称": name, "统一社会信用代码": uscc, "单位类别": "企业", "交易分团": sub, "联系人": "张三",
              "联系人手机": "13800138000", "联系人邮箱": "zs@example.cn", "采购意向": "食品及农产品"}
    values.update(kw)
    return [values[h] for h in ORG_HEADER]


def person_row(uscc: str, n: int, **kw) -> list:
    values = {"统一社会信用代码": uscc, "姓名": f"人员{n}", "性别": "", "人员类型": "中国大陆地区", "证件类型": "居民身份证",
              "证件号码": resident_id(n), "出生日期": "", "手机": f"139{n:08d}", "邮箱": "", "职务": "经理",
              "人员标签": "专业观众", "入场日期": "", "领取方式": "快递"}
    values.update(kw)
    return [values[h] for h in PERSON_HEADER]


def registration_book(orgs: list[list], persons: list[list], **kw) -> bytes:
    return xlsx({"单位": [ORG_HEADER, *orgs], "人员": [PERSON_HEADER, *persons]}, **kw)


__all__ = ["xlsx", "csv_bytes", "resident_id", "org_row", "person_row", "registration_book", "make_uscc"]
