"""Transfer vouchers for the demo: small real files (a PNG bank receipt, or a one-page PDF) that pass the
content check of models.files and are stored by it, as an upload would be.

The text is ASCII: the default Pillow font and the PDF's built-in Helvetica carry no Chinese glyphs.
"""
from __future__ import annotations

import io

from PIL import Image, ImageDraw

from models import files

RECEIPT_TITLE = "ONLINE BANKING TRANSFER RECEIPT"
PAYEE = "Payee: Guangdong Trading Delegation (CIIE)"


def receipt_lines(order_number: str, amount, payer_account: str, reference: str, day: str) -> list[str]:
    """What a bank's transfer receipt says, line by line."""
    return [RECEIPT_TITLE, f"Date: {day}", f"Payer account: {payer_account}", PAYEE,
            f"Amount: CNY {amount:.2f}", f"Memo: {order_number}", f"Reference: {reference}"]


def receipt_png(lines: list[str]) -> bytes:
    """A 420 x 200 PNG receipt with the lines in black on white, framed."""
    image = Image.new("RGB", (420, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 415, 195), outline=(40, 80, 160), width=2)
    for i, line in enumerate(lines):
        draw.text((16, 14 + i * 24), line, fill=(0, 0, 0) if i else (40, 80, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def receipt_pdf(lines: list[str]) -> bytes:
    """A one-page PDF (Helvetica) with the lines; the cross-reference table gives every object's offset."""
    text = " T* ".join(f"({_pdf_escape(line)}) Tj" for line in lines)
    stream = f"BT /F1 12 Tf 24 170 Td 20 TL {text} ET".encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 200] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def store_voucher(lines: list[str], *, pdf: bool, root=None) -> str:
    """Store the receipt as an uploaded voucher would be (content checked); its generated name."""
    return files.store("voucher", receipt_pdf(lines) if pdf else receipt_png(lines), root=root)
