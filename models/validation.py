"""Identity documents, USCCs and mobile numbers: normalise and check. Pure Python, for importers and forms.

Every validator returns the normalised value or raises InvalidParameter with a Chinese message.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import date

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

from models.enums import Gender, IdType
from models.errors import InvalidParameter

# The 31 province-level divisions of the mainland (GB/T 2260); resident ID cards start with one of them.
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
})
EARLIEST_BIRTH = date(1900, 1, 1)

HK_MACAO_PERMIT = re.compile(r"[HM]\d{8}(\d{2})?")
TAIWAN_PERMIT = re.compile(r"\d{8}(\d{2})?")
PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
MOBILE = re.compile(r"1[3-9]\d{9}")
MOBILE_PREFIX = re.compile(r"^(\+86|0086)")
# What Excel makes of a long number stored as a number: 4.40103E+17 (the last digits are gone).
SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E\+?\d+$")


@dataclass(frozen=True)
class IdDocument:
    """A checked ID document: normalised number, what it tells (resident IDs) and soft warnings."""

    id_type: IdType
    number: str
    birth_date: date | None = None
    gender: Gender | None = None
    warnings: tuple[str, ...] = ()


def normalise(value, *, field: str, what: str) -> str:
    """Half-width, upper-case, without spaces; refuses blanks and numbers mangled by Excel."""
    if isinstance(value, float):
        raise InvalidParameter(f"{what}被存成了数字，末尾数字可能已丢失，请将该列设为文本后重新填写", field=field)
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).upper()
    if not text:
        raise InvalidParameter(f"请填写{what}", field=field)
    if SCIENTIFIC.match(text):
        raise InvalidParameter(f"{what}被Excel存成了科学计数法（{text}），末尾数字已丢失，请将该列设为文本后重新填写",
                               field=field)
    return text


def validate_uscc(value, *, field: str = "uscc") -> str:
    """A unified social credit code (GB 32100), normalised to 18 upper-case characters."""
    number = uscc.compact(normalise(value, field=field, what="统一社会信用代码"))
    if len(number) != 18:
        raise InvalidParameter(f"统一社会信用代码应为18位（当前{len(number)}位）", field=field)
    try:
        return uscc.validate(number)
    except InvalidChecksum:
        raise InvalidParameter("统一社会信用代码校验位错误", field=field) from None
    except ValidationError:
        raise InvalidParameter("统一社会信用代码格式错误（前8位应为数字，其余为数字或大写字母，不含I、O、S、V、Z）",
                               field=field) from None


def check_resident_id(value, *, today: date | None = None, field: str = "id_number") -> IdDocument:
    """A mainland resident ID: checksum, birth date and province are hard rules, the county only a warning."""
    number = normalise(value, field=field, what="居民身份证号码")
    if len(number) == 15 and number.isdigit():
        raise InvalidParameter("15位旧身份证号码已停止使用，请填写18位居民身份证号码", field=field)
    if len(number) != 18:
        raise InvalidParameter(f"居民身份证号码应为18位（当前{len(number)}位）", field=field)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidParameter("居民身份证号码格式错误（前17位为数字，最后一位为数字或X）", field=field)
    if number[17] != ric.calc_check_digit(number):
        raise InvalidParameter("居民身份证号码校验位错误", field=field)
    try:
        # The date itself (ric.get_birth_date re-cleans the number first: a third of the time of a 100,000-row import).
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidParameter(f"居民身份证号码中的出生日期无效（{number[6:14]}）", field=field) from None
    today = today or date.today()
    if birth > today:
        raise InvalidParameter(f"居民身份证号码中的出生日期晚于今天（{birth:%Y-%m-%d}）", field=field)
    if birth < EARLIEST_BIRTH:
        raise InvalidParameter(f"居民身份证号码中的出生日期早于1900年（{birth:%Y-%m-%d}）", field=field)
    if number[:2] not in PROVINCE_CODES:
        raise InvalidParameter(f"居民身份证号码的地区代码无效（{number[:2]}不是省级行政区划代码）", field=field)
    warnings = ()
    if not county_existed(number[:6], birth.year):
        warnings = (f"地区代码{number[:6]}在{birth.year}年的行政区划中未找到，请人工核对",)
    gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
    return IdDocument(IdType.RESIDENT_ID, number, birth, gender, warnings)


@lru_cache(maxsize=65536)
def county_existed(county: str, year: int) -> bool:
    """True when stdnum knows the six-digit county code in that year (what ric.validate adds to our checks).

    Cached: the answer depends on the code and the year only, and a batch import checks 100,000 numbers.
    """
    try:
        ric.get_birth_place(f"{county}{year:04d}0101" + "0000")
    except Exception:  # noqa: BLE001 - stdnum also raises KeyError for some codes; the county is advisory
        return False
    return True


def validate_resident_id(value, *, today: date | None = None, field: str = "id_number") -> date:
    """The birth date of a valid mainland resident ID (county warnings are ignored here)."""
    return check_resident_id(value, today=today, field=field).birth_date


def validate_hk_macao_permit(value, *, field: str = "id_number") -> str:
    """A Mainland Travel Permit for Hong Kong and Macao residents: H or M and 8 or 10 digits."""
    number = normalise(value, field=field, what="港澳居民来往内地通行证号码")
    if not HK_MACAO_PERMIT.fullmatch(number):
        raise InvalidParameter("港澳居民来往内地通行证号码格式错误（H或M开头，后接8位或10位数字）", field=field)
    return number


def validate_taiwan_permit(value, *, field: str = "id_number") -> str:
    """A Mainland Travel Permit for Taiwan residents: 8 or 10 digits."""
    number = normalise(value, field=field, what="台湾居民来往大陆通行证号码")
    if not TAIWAN_PERMIT.fullmatch(number):
        raise InvalidParameter("台湾居民来往大陆通行证号码格式错误（应为8位或10位数字）", field=field)
    return number


def validate_passport(value, *, field: str = "id_number") -> str:
    """A passport number: 5 to 20 letters and digits."""
    number = normalise(value, field=field, what="护照号码")
    if not PASSPORT.fullmatch(number):
        raise InvalidParameter("护照号码格式错误（应为5至20位字母或数字）", field=field)
    return number


def validate_mobile(value, *, field: str = "mobile") -> str:
    """A mainland mobile number (11 digits starting 13-19); +86, spaces and hyphens are dropped."""
    number = MOBILE_PREFIX.sub("", normalise(value, field=field, what="手机号码").replace("-", ""))
    if not MOBILE.fullmatch(number):
        raise InvalidParameter("手机号码格式错误（应为以1开头的11位中国大陆手机号码）", field=field)
    return number


def validate_id_document(id_type: IdType | str, number, *, today: date | None = None,
                         field: str = "id_number") -> IdDocument:
    """Check a number against its document type; resident IDs also yield birth date, gender and warnings."""
    try:
        id_type = IdType(id_type)
    except ValueError:
        raise InvalidParameter(f"证件类型无效：{id_type}", field="id_type") from None
    if id_type is IdType.RESIDENT_ID:
        return check_resident_id(number, today=today, field=field)
    check = {IdType.HK_MACAO_PERMIT: validate_hk_macao_permit, IdType.TAIWAN_PERMIT: validate_taiwan_permit,
             IdType.PASSPORT: validate_passport}[id_type]
    return IdDocument(id_type, check(number, field=field))


EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def validate_email(value, *, field: str = "email") -> str:
    """An e-mail address as a person types it (trimmed); the domain part lower-cased."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        raise InvalidParameter("请填写邮箱", field=field)
    if len(text) > 120 or not EMAIL.match(text):
        raise InvalidParameter(f"邮箱格式不正确：{text}", field=field)
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"
