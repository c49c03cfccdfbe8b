"""Parsing a cell's text into a value: whole numbers, amounts, dates, enum members, sub-delegations.

Each parser returns the value or raises CellError with the problem kind and a message in both languages;
the importer names the column and the row.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from importers.columns import header_key
from importers.problems import CellError
from importers.reader import serial_date
from models.base import LabeledEnum
from models.delegation.tables import SubDelegation, User
from models.errors import InvalidParameter
from models.scope import visible

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S")
SERIAL = re.compile(r"\d{5}(\.\d+)?")


def required(text: str) -> str:
    """The text, or CellError 'required' when the cell is empty."""
    if not text:
        raise CellError("required", "不能为空", "is required")
    return text


def bounded_text(text: str, limit: int) -> str:
    """The text when it fits the column; CellError otherwise."""
    if len(text) > limit:
        raise CellError("invalid", f"过长（{len(text)} 个字符，最多 {limit} 个）", f"is too long ({len(text)} characters, "
                                                                            f"at most {limit})")
    return text


def whole_number(text: str, low: int = 0, high: int = 100_000) -> int:
    """A whole number within [low, high]."""
    try:
        number = Decimal(unicodedata.normalize("NFKC", text).replace(",", ""))
    except InvalidOperation:
        raise CellError("invalid", f"应为整数：{text}", f"must be a whole number: {text}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError("invalid", f"应为整数：{text}", f"must be a whole number: {text}")
    if not low <= number <= high:
        raise CellError("invalid", f"应在 {low} 到 {high} 之间：{text}", f"must be between {low} and {high}: {text}")
    return int(number)


def amount(text: str) -> Decimal:
    """A positive amount of money with at most two decimals."""
    try:
        value = Decimal(unicodedata.normalize("NFKC", text).replace(",", "").replace("¥", "").replace("元", ""))
    except InvalidOperation:
        raise CellError("invalid", f"应为金额：{text}", f"must be an amount: {text}") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise CellError("invalid", f"应为大于 0、最多两位小数的金额：{text}",
                        f"must be a positive amount with at most two decimals: {text}")
    return value.quantize(Decimal("0.01"))


def _serial_refusal(text: str) -> CellError:
    hint = serial_date(text)
    return CellError("excel_serial", f"是 Excel 日期序号 {text}（对应 {hint}）：请填写 2025-11-05 这样的日期",
                     f"is the Excel date serial {text} (for {hint}): write a date such as 2025-11-05")


def a_date(text: str, *, not_after: date | None = None) -> date:
    """A date written YYYY-MM-DD (or with / . 年月日); an Excel serial is refused with the date it stands for."""
    text = unicodedata.normalize("NFKC", text).strip()
    if SERIAL.fullmatch(text):
        raise _serial_refusal(text)
    for fmt in DATE_FORMATS:
        try:
            value = datetime.strptime(text, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise CellError("invalid", f"不是有效日期：{text}（请写作 2025-11-05）", f"is not a valid date: {text} "
                                                                         "(write 2025-11-05)")
    if not_after is not None and value > not_after:
        raise CellError("invalid", f"晚于今天：{text}", f"is later than today: {text}")
    return value


def a_datetime(text: str) -> datetime:
    """A date and time ('2025-10-01 14:30:00'); without an offset it is read as Beijing time by the domain."""
    text = unicodedata.normalize("NFKC", text).strip()
    if SERIAL.fullmatch(text):
        raise _serial_refusal(text)
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CellError("invalid", f"不是有效的时间：{text}（请写作 2025-10-01 14:30:00）",
                        f"is not a valid date and time: {text} (write 2025-10-01 14:30:00)") from None


class EnumWords:
    """Reads an enum member from its Chinese label, English label or stored value (and extra words)."""

    def __init__(self, enum_cls: type[LabeledEnum], extra: dict[str, LabeledEnum] | None = None,
                 only: tuple[LabeledEnum, ...] | None = None):
        self.members = tuple(only or enum_cls)
        self.words = {}
        for member in self.members:
            for word in (member.zh, member.en, member.value):
                self.words[header_key(word)] = member
        for word, member in (extra or {}).items():
            self.words[header_key(word)] = member

    def __call__(self, text: str) -> LabeledEnum:
        member = self.words.get(header_key(text))
        if member is None:
            options = "、".join(m.zh for m in self.members)
            raise CellError("invalid", f"取值无效：{text}（可选：{options}）",
                            f"is not one of the options: {text} ({', '.join(m.en for m in self.members)})")
        return member

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(m.zh for m in self.members)


def domain_check(check, *args, **kwargs):
    """Run a models.validation check; its InvalidParameter becomes a CellError with the same message."""
    try:
        return check(*args, **kwargs)
    except InvalidParameter as exc:
        kind = "number_stored" if "数字" in exc.message and ("丢失" in exc.message) else "invalid"
        raise CellError(kind, exc.message, exc.message) from None


class SubDelegations:
    """The sub-delegations an actor may see, found by name or code (as the cells write them)."""

    def __init__(self, session: Session, actor: User):
        subs = session.scalars(select(SubDelegation).where(visible(actor, SubDelegation))
                               .order_by(SubDelegation.seq, SubDelegation.id)).all()
        self.subs = subs
        self.by_word = {}
        for sub in subs:
            self.by_word.setdefault(header_key(sub.code), sub)
            self.by_word.setdefault(header_key(sub.name), sub)
        self.only = subs[0] if len(subs) == 1 and actor.sub_delegation_ids else None

    def __call__(self, text: str) -> SubDelegation:
        """The sub-delegation named; the actor's only one when the cell is empty."""
        if not text:
            if self.only is not None:
                return self.only
            raise CellError("required", "不能为空（请填写交易分团名称）", "is required (the sub-delegation's name)")
        sub = self.by_word.get(header_key(text))
        if sub is None:
            raise CellError("scope", f"「{text}」不存在或不在您的权限范围内", f"{text} does not exist or is outside your scope")
        return sub

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.subs]
