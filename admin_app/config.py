"""Configuration: defaults, environment variables, and the start-up checks."""
from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

# Commands that manage data and never serve requests: they may run without SECRET_KEY.
MAINTENANCE_COMMANDS = {"demo", "db", "seed-demo", "create-user", "transition", "routes", "shell", "create-orders",
                        "expire-orders", "send-outbox", "job-wait", "import", "import-template", "export"}
SUPPORTED_LOCALES = ("zh_CN", "en")
FALSE_WORDS = {"0", "false", "no", "off"}


def defaults(instance_path: str) -> dict:
    """Settings every deployment starts from; the environment and create_app(config) override them."""
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'delegation_desk.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Served over HTTPS in production; the demo (plain http on 127.0.0.1) turns it off.
        "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": True,
        # Idle timeout: the signed cookie is re-issued on every request and refused once this old.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        # X-Forwarded-For is believed only behind this many trusted proxies (0: use the peer address).
        "TRUSTED_PROXIES": 0,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "FLASK_ADMIN_SWATCH": "flatly",
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_LIMIT_PER_USERNAME": "5 per 15 minutes",
        "LOGIN_LIMIT_PER_ADDRESS": "20 per 15 minutes",
        "REPORTS_DIR": str(Path(instance_path) / "reports"),
        # Uploaded licences, photos and vouchers: outside the static folder, served only through scoped views.
        "UPLOADS_DIR": str(Path(instance_path) / "uploads"),
        "DEMO": False,
    }


def from_environment() -> dict:
    """Settings read from environment variables."""
    env = {}
    if os.environ.get("DATABASE_URL"):
        env["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    for name in ("SECRET_KEY", "REDIS_URL", "UPLOADS_DIR", "REPORTS_DIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    # Several app processes must share the login counters: Redis when it is configured.
    storage = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL")
    if storage:
        env["RATELIMIT_STORAGE_URI"] = storage
    if os.environ.get("SESSION_COOKIE_SECURE"):
        secure = os.environ["SESSION_COOKIE_SECURE"].strip().lower() not in FALSE_WORDS
        env["SESSION_COOKIE_SECURE"] = env["REMEMBER_COOKIE_SECURE"] = secure
    if os.environ.get("SESSION_IDLE_HOURS"):
        env["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(os.environ["SESSION_IDLE_HOURS"]))
    if os.environ.get("TRUSTED_PROXIES"):
        env["TRUSTED_PROXIES"] = int(os.environ["TRUSTED_PROXIES"])
    return env


def normalise_database_url(url: str) -> str:
    """postgres:// and postgresql:// URLs use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def running_maintenance_command(argv: list[str] | None = None) -> bool:
    """True when the process is the flask CLI running a command that does not serve requests."""
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]) if argv else None
    # `flask ...` or `python -m flask ...` (argv[0] is then flask/__main__.py)
    if program is None or not (program.name.startswith("flask") or program.parent.name == "flask"):
        return False
    words = iter(argv[1:])
    for word in words:
        if word in ("--app", "-A", "--env-file", "-e"):
            next(words, None)
        elif not word.startswith("-"):
            return word in MAINTENANCE_COMMANDS
    return False


class MissingSecretKey(RuntimeError):
    """Raised at start-up when a serving app has no SECRET_KEY."""
