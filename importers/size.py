"""How many rows an upload holds, told cheaply before it is read: a large file is imported by a background job.

An xlsx sheet states its extent in a `<dimension ref="A1:M100001"/>` element at the head of its XML, so
only the first bytes of each sheet are unpacked; a sheet without one is measured by calamine. A csv's rows
are its lines. The count is an upper bound (headers, notes and hidden sheets included), never a parse.
"""
from __future__ import annotations

import io
import re
import zipfile

from importers.structure import sheet_parts

DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="[A-Z]+(\d+)(?::[A-Z]+(\d+))?"')
HEAD_BYTES = 4096


def upload_rows(data: bytes) -> int:
    """The rows of every sheet of an xlsx, or the lines of a text file; 0 for what is neither."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if not data or b"\x00" in data[:HEAD_BYTES]:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _xlsx_rows(data: bytes) -> int:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for name, part in sheet_parts(archive).items():
                with archive.open(part) as stream:
                    found = DIMENSION.search(stream.read(HEAD_BYTES))
                total += int(found.group(2) or found.group(1)) if found else _rows_by_calamine(data, name)
            return total
    except Exception:  # a damaged workbook: the import itself refuses it, at once
        return 0


def _rows_by_calamine(data: bytes, sheet_name: str) -> int:
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet_name).total_height
