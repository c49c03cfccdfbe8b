"""Helpers shared by the web tests."""
from __future__ import annotations

import re

from models import (AuditEntry, DealIntention, Invoice, Order, OrderLine, OrgAddress, Organization, OutboxMessage,
                    Payment, Person, QuotaAllocation, Refund)
from views.registry import VIEW_SPECS

SCOPED_MODELS = (Organization, Person, OrgAddress, QuotaAllocation, DealIntention, Order, OrderLine, Payment, Invoice,
                 Refund, AuditEntry, OutboxMessage)
# Every registered view of a model that holds sub-delegation rows: the row-scope matrix covers them all.
VIEW_ENDPOINTS = {model: model.__tablename__ for model, _, _ in VIEW_SPECS if model in SCOPED_MODELS}
ALL_ENDPOINTS = [model.__tablename__ for model, _, _ in VIEW_SPECS]


def list_count(html: str) -> int | None:
    """The row count Flask-Admin shows in the list tab: '列表 (12)' / 'List (12)'."""
    match = re.search(r'nav-link active">([^<]*)<', html)
    if match is None:
        return None
    number = re.search(r"\((\d+)\)", match.group(1))
    return int(number.group(1)) if number else 0  # Flask-Admin omits "(0)"


def app_config(database_url, tmp_path, **extra) -> dict:
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False,
              "RATELIMIT_ENABLED": False, "REPORTS_DIR": str(tmp_path / "reports"), "SECRET_KEY": "test"}
    config.update(extra)
    return config
