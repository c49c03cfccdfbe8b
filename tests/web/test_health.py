"""/healthz: no login, no cookie, JSON; 200 when the database (and Redis, if configured) answer, else 503."""
from __future__ import annotations

from admin_app import create_app
from admin_app.extensions import db


def test_healthz_answers_200_without_login_or_cookie(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured"}
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"


def healthz(tmp_path, **config):
    """GET /healthz on an app of its own with these settings; its engine is disposed of afterwards."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "REPORTS_DIR": str(tmp_path), **config})
    try:
        return app.test_client().get("/healthz")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path):
    response = healthz(tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/no_such_database")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable" and response.json["database"].startswith("error")


def test_healthz_answers_503_when_redis_is_configured_but_down(database_url, engine, tmp_path):
    response = healthz(tmp_path, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="redis://127.0.0.1:1/0",
                       RATELIMIT_STORAGE_URI="memory://")
    assert response.status_code == 503
    assert response.json["database"] == "ok" and response.json["redis"].startswith("error")
