"""Helpers shared by the web tests."""
from __future__ import annotations

import os
import re
import socket
import urllib.parse
import uuid
from contextlib import contextmanager

import pytest

from models import (AuditEntry, DealIntention, Invoice, Order, OrderLine, OrgAddress, Organization, OutboxMessage,
                    Payment, Person, QuotaAllocation, Refund)
from views.registry import VIEW_SPECS

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

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


@contextmanager
def rq_queue(app, monkeypatch):
    """The app's jobs on an RQ queue of their own on the test Redis (the test skips when Redis does not answer);
    yields the Redis connection and deletes the queue's keys at the end."""
    from redis import Redis

    parts = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
    except OSError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    queue_name = f"dd-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue_name)
    redis = Redis.from_url(REDIS_URL)
    try:
        yield redis
    finally:
        keys = list(redis.scan_iter(f"*{queue_name}*"))
        if keys:
            redis.delete(*keys)
