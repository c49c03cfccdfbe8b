"""Uploaded documents: checked by their content, stored under generated names, opened only by those names.

Request-free: every function takes the storage root as `root=`, or uses the one configure() set at
start-up (create_app passes UPLOADS_DIR, which lies outside the static folder). A stored name is
`<kind>/<32 hex>.<ext>`: generated here, never the uploaded file's name, and nothing else is opened.
"""
from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from pathlib import Path

import filetype
from PIL import Image

from models.enums import OrgCategory
from models.errors import InvalidParameter, NotFound

MAX_BYTES = 2 * 1024 * 1024  # seeds 000/002: 上传附件大小不超过2M
# A 2 MB PNG of one colour can claim 50,000 x 50,000 pixels (a decompression bomb); a licence scanned at
# 300 dpi is 9 megapixels and a phone photo 12 to 48, so 50 megapixels refuses nothing real.
MAX_PIXELS = 50_000_000

JPG, PNG, PDF = "jpg", "png", "pdf"
CONTENT_TYPES = {JPG: "image/jpeg", PNG: "image/png", PDF: "application/pdf"}
KINDS: dict[str, tuple[str, ...]] = {"licence": (JPG, PNG), "photo": (JPG, PNG), "voucher": (JPG, PNG, PDF)}
LABELS = {"licence": "单位资质文件", "photo": "证件照", "voucher": "汇款凭证"}
# Pillow's format names; MPO is the multi-picture JPEG many phone cameras write.
IMAGE_FORMATS = {"JPEG": JPG, "MPO": JPG, "PNG": PNG}
STORED_NAME = re.compile(r"(?P<kind>%s)/[0-9a-f]{32}\.(?P<ext>%s)" % ("|".join(KINDS), "|".join(CONTENT_TYPES)))

# Seeds 000/002: 企业上传营业执照、社会组织上传社会团体法人证、事业单位上传事业单位法人证，政府机构无需上传.
LICENCE_DOCUMENTS = {OrgCategory.ENTERPRISE: ("营业执照", "business licence"),
                     OrgCategory.SOCIAL_ORGANISATION: ("社会团体法人证", "social organisation certificate"),
                     OrgCategory.PUBLIC_INSTITUTION: ("事业单位法人证", "public institution certificate")}

_root: Path | None = None


def configure(root: str | os.PathLike) -> None:
    """Set the storage root used when a call passes none (create_app does this from UPLOADS_DIR)."""
    global _root
    _root = Path(root)


def storage_root(root: str | os.PathLike | None = None) -> Path:
    """The root given, else the configured one."""
    if root is not None:
        return Path(root)
    if _root is None:
        raise RuntimeError("models.files: no storage root (call models.files.configure(UPLOADS_DIR) at start-up)")
    return _root


def needs_licence(category: OrgCategory | str | None) -> bool:
    """True for the domestic categories the seeds ask a licence of; government agencies and overseas ones need none."""
    return category is not None and OrgCategory(category) in LICENCE_DOCUMENTS


def allowed_text(kind: str) -> str:
    """'jpg 或 png 图片' for a kind's allowed types, in words."""
    types = KINDS[kind]
    images = [t for t in types if t != PDF]
    if PDF in types:
        return f"{'、'.join(images)} 图片或 pdf 文件"
    return f"{' 或 '.join(images)} 图片"


def sniff(kind: str, data: bytes, *, field: str | None = None) -> str:
    """The file's real type (jpg/png/pdf) if this kind accepts it and its size; InvalidParameter otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind: {kind}")
    field = field or kind
    if not data:
        raise InvalidParameter("所选文件为空，请重新选择", field=field)
    if len(data) > MAX_BYTES:
        raise InvalidParameter(f"文件不能超过 {MAX_BYTES // (1024 * 1024)} MB", field=field)
    ext = _image_type(data, field) or _pdf_type(data)
    if ext not in KINDS[kind]:
        raise InvalidParameter(f"{LABELS[kind]}须为 {allowed_text(kind)}", field=field)
    return ext


def _image_type(data: bytes, field: str) -> str | None:
    """jpg or png when Pillow reads a sound image of a sane pixel size from the bytes; None when it is no image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:  # reads the header only
                ext = IMAGE_FORMATS.get(image.format)
                width, height = image.size
                if ext and width * height > MAX_PIXELS:
                    raise InvalidParameter(f"图片尺寸过大（{width}×{height}），请缩小到 5000 万像素以内", field=field)
                image.verify()  # checks the structure (PNG chunk checksums, JPEG markers) without decoding
                return ext
    except InvalidParameter:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidParameter("图片尺寸过大，请缩小到 5000 万像素以内", field=field) from None
    except Exception:  # Pillow raises many kinds (UnidentifiedImageError, OSError, SyntaxError, ...): not an image
        return None


def _pdf_type(data: bytes) -> str | None:
    """pdf when the bytes start as a PDF does."""
    kind = filetype.guess(data)
    return PDF if kind is not None and kind.extension == PDF else None


def store(kind: str, data: bytes, *, root: str | os.PathLike | None = None, field: str | None = None) -> str:
    """Check the bytes and write them under a generated name; return that name (`licence/<32 hex>.png`)."""
    ext = sniff(kind, data, field=field)
    folder = storage_root(root) / kind
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{kind}/{secrets.token_hex(16)}.{ext}"
    path = storage_root(root) / name
    # O_EXCL: a name is written once and never overwritten; 0o640: not readable by other accounts.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o640)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return name


def is_stored_name(name: str | None) -> bool:
    """True only for names store() generates; demo placeholders, paths and anything else are not."""
    return isinstance(name, str) and STORED_NAME.fullmatch(name) is not None


def path_of(name: str | None, *, root: str | os.PathLike | None = None) -> Path:
    """The file of a stored name; NotFound for any other name or a file that is not there."""
    if not is_stored_name(name):
        raise NotFound("文件不存在")
    base = storage_root(root).resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():  # the pattern already forbids '..'; a symlink may not
        raise NotFound("文件不存在")
    return path


def open_stored(name: str | None, *, root: str | os.PathLike | None = None):
    """The stored file opened for reading (binary); NotFound as path_of."""
    return path_of(name, root=root).open("rb")


def exists(name: str | None, *, root: str | os.PathLike | None = None) -> bool:
    """True when the name is a stored name and its file is there."""
    try:
        path_of(name, root=root)
    except NotFound:
        return False
    return True


def content_type(name: str) -> str:
    """The MIME type of a stored name (from the type found when it was stored)."""
    match = STORED_NAME.fullmatch(name or "")
    if match is None:
        raise NotFound("文件不存在")
    return CONTENT_TYPES[match["ext"]]


def remove(name: str | None, *, root: str | os.PathLike | None = None) -> None:
    """Delete a stored file (a write that failed must not leave it behind); other names are ignored."""
    if is_stored_name(name):
        (storage_root(root) / name).unlink(missing_ok=True)
