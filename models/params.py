"""Parameters a transition asks for, and the kinds they come in: each kind parses a value and makes its form field.

A new kind is one entry of KINDS. The form fields are WTForms fields (no Flask): the back office
renders them, the CLI and importers only parse.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from wtforms import DateField, DecimalField, FileField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from models.delegation.tables import SubDelegation
from models.errors import InvalidParameter

MAX_AMOUNT = Decimal("100000000")  # 1亿元: no badge-fee amount comes near it


@dataclass(frozen=True)
class Param:
    """A parameter an action asks for: its name, (zh, en) label, kind and, for choices, the options."""

    name: str
    label: tuple[str, str]
    kind: str = "text"  # a key of KINDS
    required: bool = True
    choices: tuple[tuple[str, str | tuple[str, str]], ...] = ()  # (value, label or (zh, en) labels)
    max_length: int = 500

    def invalid(self, value) -> InvalidParameter:
        return InvalidParameter(f"「{self.label[0]}」的取值无效：{value}", field=self.name)

    def parse(self, value):
        """The clean value, or InvalidParameter naming the field."""
        return KINDS[self.kind].parse(self, value)

    def form_field(self, label, session):
        """The WTForms field for this parameter; `label` is the text shown (in the user's language)."""
        required = DataRequired(message=f"请填写「{self.label[0]}」") if self.required else Optional()
        return KINDS[self.kind].field(self, label, [required], session)


@dataclass(frozen=True)
class Kind:
    """How one kind of parameter is parsed and shown."""

    parse: Callable[[Param, object], object]
    field: Callable[[Param, object, list, object], object]


def _text(param: Param, value):
    value = str(value)
    if len(value) > param.max_length:
        raise InvalidParameter(f"「{param.label[0]}」不能超过 {param.max_length} 个字", field=param.name)
    return value


def _choice(param: Param, value):
    if str(value) not in {code for code, _ in param.choices}:
        raise param.invalid(value)
    return str(value)


def _sub_delegation(param: Param, value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise param.invalid(value) from None


def _amount(param: Param, value):
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise param.invalid(value) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise InvalidParameter(f"「{param.label[0]}」须在 0 到 {MAX_AMOUNT:,.0f} 元之间", field=param.name)
    return amount.quantize(Decimal("0.01"))


def _date(param: Param, value):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidParameter(f"「{param.label[0]}」须为日期（如 2025-10-12）：{value}", field=param.name) from None


STORED_NAME = re.compile(r"^[a-z]+/[0-9a-f]{32}\.(jpg|png|pdf)$")


def _file(param: Param, value):
    """A stored file's generated name ('vouchers/<hex>.pdf'), as the upload handler returns it."""
    name = str(value)
    if not STORED_NAME.match(name):
        raise param.invalid(value)
    return name


def _sub_delegation_choices(session) -> list[tuple[str, str]]:
    """Every sub-delegation's name and code (a target of reassignment need not be in the actor's scope)."""
    rows = session.execute(select(SubDelegation.id, SubDelegation.name, SubDelegation.code)
                           .order_by(SubDelegation.seq, SubDelegation.id))
    return [("", "")] + [(str(i), f"{n}（{c}）") for i, n, c in rows]


KINDS: dict[str, Kind] = {
    "text": Kind(_text, lambda p, label, v, s: TextAreaField(label, validators=v + [Length(max=p.max_length)])),
    "choice": Kind(_choice, lambda p, label, v, s: SelectField(
        label, choices=[("", "")] + [(code, text if isinstance(text, str) else text[0]) for code, text in p.choices],
        validators=v)),
    "sub_delegation": Kind(_sub_delegation, lambda p, label, v, s: SelectField(
        label, choices=_sub_delegation_choices(s), validators=v)),
    "amount": Kind(_amount, lambda p, label, v, s: DecimalField(
        label, places=2, validators=v + [NumberRange(min=0, max=float(MAX_AMOUNT))])),
    "date": Kind(_date, lambda p, label, v, s: DateField(label, validators=v)),
    "file": Kind(_file, lambda p, label, v, s: FileField(label, validators=v)),
}


def clean_params(params: tuple[Param, ...], raw: dict | None) -> dict:
    """Validated values of the declared parameters; InvalidParameter names the field at fault."""
    raw = dict(raw or {})
    clean = {}
    for p in params:
        value = raw.get(p.name)
        value = value.strip() if isinstance(value, str) else value
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            if p.required:
                raise InvalidParameter(f"请填写「{p.label[0]}」", field=p.name)
            clean[p.name] = None
            continue
        clean[p.name] = p.parse(value)
    unknown = set(raw) - {p.name for p in params}
    if unknown:
        raise InvalidParameter(f"未知参数：{', '.join(sorted(unknown))}")
    return clean
