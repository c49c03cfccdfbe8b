"""Domain labels in the current language: models carry (Chinese, English) pairs, views pick one lazily."""
from __future__ import annotations

from flask import has_request_context
from flask_babel import LazyString, get_locale

from models.base import LabeledEnum


def english() -> bool:
    """True when the current request is in English."""
    return has_request_context() and str(get_locale() or "zh_CN").startswith("en")


def pick(pair: tuple[str, str]) -> str:
    """The member of a (zh, en) pair for the current language."""
    return pair[1] if english() else pair[0]


def tr(pair: tuple[str, str]) -> LazyString:
    """A (zh, en) pair resolved when rendered, so class-level labels follow the request's language."""
    return LazyString(pick, pair)


def enum_label(member: LabeledEnum | str | None, enum_cls: type[LabeledEnum] | None = None) -> str:
    """The label of an enum member (or its stored value) in the current language."""
    if member is None:
        return ""
    if not isinstance(member, LabeledEnum):
        if enum_cls is None:
            return str(member)
        try:
            member = enum_cls(member)
        except ValueError:
            return str(member)
    return member.en if english() else member.zh
