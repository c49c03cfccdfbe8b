"""/healthz: is this process able to serve? The database answers SELECT 1, Redis answers PING (when configured).

For load balancers and process supervisors: no login, no session cookie, JSON, 200 or 503.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)
OK = "ok"
NOT_CONFIGURED = "not configured"


def check_database() -> str:
    from admin_app.extensions import db

    try:
        # DEFERRED: a health check must not queue behind (or block) SQLite's single writer.
        with db.engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
            connection.execute(text("SELECT 1"))
        return OK
    except Exception as exc:  # any failure means "not healthy"; the class name says which kind
        current_app.logger.warning("healthz: database check failed: %s", exc)
        return f"error ({type(exc).__name__})"


def check_redis() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return NOT_CONFIGURED
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return OK
    except Exception as exc:
        current_app.logger.warning("healthz: redis check failed: %s", exc)
        return f"error ({type(exc).__name__})"


@bp.get("/healthz")
def healthz():
    checks = {"database": check_database(), "redis": check_redis()}
    healthy = all(value in (OK, NOT_CONFIGURED) for value in checks.values())
    body = jsonify(status="ok" if healthy else "unavailable", **checks)
    return body, 200 if healthy else 503, {"Cache-Control": "no-store"}
