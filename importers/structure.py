"""What pandas cannot tell about an xlsx: where the formula cells and the merged ranges are.

Reading every cell with openpyxl costs five to eight times what calamine does, so each sheet's XML is
scanned as bytes instead: `<f>` elements mark formulas, `<mergeCell ref=...>` merged ranges. Only a sheet
whose formula cells carry no reference (some writers omit `r=`) is opened with openpyxl (read-only) to
find them. Positions are 0-based (row, column), as pandas reads the sheet from A1.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
FORMULA_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*>\s*<f\b')
ANY_FORMULA = re.compile(rb"<f\b")
MERGE = re.compile(rb'<mergeCell\b[^>]*?\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


@dataclass
class SheetStructure:
    """Formula cells and merged ranges ((first row, first col, last row, last col)) of one sheet."""

    formulas: set[tuple[int, int]] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)


def column_index(letters: bytes | str) -> int:
    """0-based index of a column's letters (A -> 0, AA -> 26)."""
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def column_letters(index: int) -> str:
    """Letters of a 0-based column index (0 -> A)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """{sheet name: path of its XML part} from the workbook part and its relationships."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{PACKAGE_REL}Relationship")}
    parts = {}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        target = targets.get(sheet.get(f"{REL}id"))
        if target:
            # Targets are relative to xl/ unless absolute (openpyxl writes /xl/worksheets/...).
            parts[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
    return parts


def scan(data: bytes, sheet_names: list[str]) -> dict[str, SheetStructure]:
    """Formula cells and merged ranges of the named sheets of an xlsx file."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = sheet_parts(archive)
        for name in sheet_names:
            part = parts.get(name)
            if part is None or part not in archive.namelist():
                out[name] = SheetStructure()
                continue
            xml = archive.read(part)
            out[name] = SheetStructure(formulas=_formulas(xml, data, name), merges=_merges(xml))
    return out


def _formulas(xml: bytes, data: bytes, sheet_name: str) -> set[tuple[int, int]]:
    if not ANY_FORMULA.search(xml):
        return set()
    found = {(int(row) - 1, column_index(col)) for col, row in FORMULA_CELL.findall(xml)}
    if len(found) < len(ANY_FORMULA.findall(xml)):
        found |= _formulas_by_openpyxl(data, sheet_name)
    return found


def _formulas_by_openpyxl(data: bytes, sheet_name: str) -> set[tuple[int, int]]:
    """Formula cells found by reading every cell (for sheets whose cells carry no reference)."""
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        found = set()
        for row in workbook[sheet_name].iter_rows():
            for cell in row:
                if getattr(cell, "data_type", None) == "f":
                    found.add((cell.row - 1, cell.column - 1))
        return found
    finally:
        workbook.close()


def _merges(xml: bytes) -> list[tuple[int, int, int, int]]:
    merges = []
    for c1, r1, c2, r2 in MERGE.findall(xml):
        first_row, first_col = int(r1) - 1, column_index(c1)
        merges.append((first_row, first_col, int(r2 or r1) - 1, column_index(c2 or c1)))
    return merges
