"""A back-office list seen from inside a job: the admin view by its endpoint, with the job's owner signed in.

A batch job acts on "every row the list shows for this search and these filters". Only the list's view knows
how its search and filters become SQL, and it reads the signed-in user for the scope, so the job asks the
view while a request context holds the owner as current_user. Nothing here runs a query: the view builds
the SELECT, and the job runs it in its own transaction.
"""
from __future__ import annotations

from contextlib import contextmanager

from flask import current_app, g

from models import DomainError, User


def list_view(endpoint: str):
    """The registered admin view with this endpoint that can run batches (views/transitions.py)."""
    for admin in current_app.extensions.get("admin", ()):
        for view in admin._views:
            if view.endpoint == endpoint and hasattr(view, "batch_operation"):
                return view
    raise DomainError(f"列表不存在或不支持批量操作：{endpoint}")


def admin_view(endpoint: str):
    """The registered admin view with this endpoint (any list: its export, its selection)."""
    for admin in current_app.extensions.get("admin", ()):
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    raise DomainError(f"列表不存在：{endpoint}")


@contextmanager
def acting_as(user: User, lang: str = "zh"):
    """A request context in which flask_login's current_user is `user` (the job's owner, loaded in its session),
    in the job's language (labels and masks as the owner's page showed them).

    It has an app context of its own, so its `g` (and db.session) never touch those of a request that runs
    the job inline."""
    app = current_app._get_current_object()
    with app.app_context(), app.test_request_context(query_string={"lang": "en"} if lang == "en" else None):
        g._login_user = user  # what flask_login.current_user reads first
        yield
