"""Real-browser fixtures: the back office served on a free port with demo data, driven by Debian's chromium.

Playwright for Python launches /usr/bin/chromium (never `playwright install`). Without chromium or the
playwright package every test here is skipped with the reason; .ci/run installs both.
Screenshots go to test-artifacts/ at the repository root.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Account -> password, as `flask --app admin_app demo` creates them.
ACCOUNTS = {"secretariat": "demo-secretariat", "guangzhou": "demo-guangzhou", "finance": "demo-finance",
            "viewer": "demo-viewer"}

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported as a skip reason
    sync_playwright = None


def _missing_browser() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium fonts-wqy-microhei)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing_browser()
    if reason:
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class LiveServer:
    url: str
    app: object


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The back office with a small demo data set, served by werkzeug in a thread (SQLite file)."""
    from werkzeug.serving import make_server

    from admin_app import create_app
    from admin_app.cli import DEMO_USERS
    from admin_app.extensions import db
    from admin_app.seed import seed_demo
    from models import Base
    from models.delegation.operations import create_user

    folder = tmp_path_factory.mktemp("browser")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'browser.sqlite'}",
                      "SECRET_KEY": "browser-tests", "SESSION_COOKIE_SECURE": False,
                      "REMEMBER_COOKIE_SECURE": False, "RATELIMIT_ENABLED": False,
                      "REPORTS_DIR": str(folder / "reports")})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        seed_demo(db.session, orgs=120, persons=600, seed=1)
        for username, password, role, subs, name in DEMO_USERS:
            create_user(db.session, username, password, role, sub_delegation_codes=subs, display_name=name)
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Page:
    """A signed-in browser tab that records console errors (CSP violations among them)."""

    def __init__(self, page, base: str):
        self.page, self.base, self.console_errors = page, base, []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def goto(self, path: str):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def login(self, username: str, next_path: str = "/admin/"):
        self.goto(f"/login?next={next_path}")
        self.page.fill("#username", username)
        self.page.fill("#password", ACCOUNTS[username])
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def csp_errors(self) -> list[str]:
        return [e for e in self.console_errors if "Content Security Policy" in e]


@pytest.fixture
def tab(browser, live_server):
    """tab -> a fresh browser context (no cookies) at 1,440 x 900."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    page = Page(context.new_page(), live_server.url)
    yield page
    context.close()
