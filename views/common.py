"""Pieces every part of the model views shares: roles, language, bounds for URL values, text helpers."""
from __future__ import annotations

import logging

from flask import has_request_context, redirect, request, url_for
from flask_login import current_user

from models import Role
from views.i18n import english

ALL_ROLES = frozenset(Role)
SECRETARIAT_ONLY = frozenset({Role.SECRETARIAT})
# Bounds for what a URL may ask: beyond them a list answers an empty page, never a database error.
MAX_PAGE = 100_000
MAX_SEARCH_LENGTH = 200
MAX_AJAX_ROWS = 50
MAX_AJAX_OFFSET = 10_000
log = logging.getLogger(__name__)


def current_role() -> Role | None:
    """The signed-in user's role; None outside a request or signed out (None sees personal data masked)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.role
    return None


def lang() -> str:
    """The current request's language for models.present."""
    return "en" if english() else "zh"


def clean_text(value: str | None, limit: int = MAX_SEARCH_LENGTH) -> str:
    """A typed term as the database may receive it: no NUL (PostgreSQL refuses it), bounded length."""
    return (value or "").replace("\x00", "")[:limit]


def table_column(expression):
    """The table Column behind a column, an ORM attribute or a filter's column; None if there is none."""
    prop = getattr(expression, "property", None)
    if prop is not None and hasattr(prop, "columns"):
        return prop.columns[0]
    return expression if hasattr(expression, "info") and hasattr(expression, "table") else None


def escape_like(term: str) -> str:
    """A term matched literally inside LIKE: % and _ are characters, not wildcards."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SignedInOnly:
    """A back-office page (not a model view) that every signed-in user may open; others go to sign in."""

    def __init__(self, db, **kwargs):
        super().__init__(**kwargs)
        self.db = db

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))
