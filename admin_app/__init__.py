"""Delegation Desk: the Flask application factory."""
from __future__ import annotations

import os

from flask import Flask, redirect, url_for

from admin_app.config import MissingSecretKey, defaults, from_environment, running_maintenance_command


def create_app(config: dict | None = None) -> Flask:
    """Build the back office; `config` overrides defaults and the environment (DATABASE_URL, SECRET_KEY)."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_mapping(from_environment())
    app.config.from_mapping(config or {})
    _check_secret_key(app)
    _configure_uploads(app)

    from admin_app import auth, background, cli, errors, i18n, security, theme
    from admin_app.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    login_manager.init_app(app)
    security.init_app(app)
    theme.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    from admin_app import export_cli, finance_cli, import_cli, payments_api

    finance_cli.register(app)
    export_cli.register(app)  # flask export KIND: the reports as xlsx
    import_cli.register(app)  # flask import KIND FILE: spreadsheets in, every row or none
    app.register_blueprint(payments_api.bp)  # gateway notifications: HMAC-signed, CSRF-exempt

    from views import init_admin

    admin = init_admin(app, db, csp_nonce_generator=security.csp_nonce)
    background.init_app(app, admin, db)  # mail, job queue, /healthz, send-outbox, 我的任务, 群发邮件
    security.allow_admin_actions(app, admin)

    _reads_without_the_write_lock(app)

    @app.route("/")
    def root():
        return redirect(url_for("admin.index"))

    return app


def _check_secret_key(app: Flask) -> None:
    """A serving app needs SECRET_KEY; tests, the demo and data commands may run without one."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("TESTING") or app.config.get("DEMO") or running_maintenance_command():
        app.config["SECRET_KEY"] = _instance_secret(app)
        return
    raise MissingSecretKey("SECRET_KEY 未设置：生产环境请设置环境变量 SECRET_KEY（演示请运行 flask --app admin_app demo）。"
                           " / SECRET_KEY is not set.")


def _configure_uploads(app: Flask) -> None:
    """models.files stores under UPLOADS_DIR, which must not be a folder the app serves as static files."""
    from pathlib import Path

    from models import files

    root = Path(app.config["UPLOADS_DIR"]).resolve()
    static = Path(app.static_folder).resolve() if app.static_folder else None
    if static is not None and root.is_relative_to(static):
        raise RuntimeError(f"UPLOADS_DIR ({root}) 不能位于静态文件目录内 / must not be inside the static folder")
    app.config["UPLOADS_DIR"] = str(root)
    files.configure(root)


def _instance_secret(app: Flask) -> str:
    """A random key kept in the instance folder, so demo sessions survive a restart."""
    path = os.path.join(app.instance_path, "demo_secret_key")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(os.urandom(32).hex())
    with open(path) as fh:
        return fh.read().strip()


def _reads_without_the_write_lock(app: Flask) -> None:
    """On SQLite, GET and HEAD requests only read: they begin DEFERRED, so pages do not queue behind
    each other for the single write lock that every deciding transaction takes (models/database.py)."""
    from flask import request

    from admin_app.extensions import db

    @app.before_request
    def _defer_sqlite_lock_for_reads():
        if request.method in ("GET", "HEAD") and db.engine.dialect.name == "sqlite":
            db.session.connection(execution_options={"sqlite_begin": "DEFERRED"})
