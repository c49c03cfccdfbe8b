"""Login throttling holds across several app processes when they share Redis."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from admin_app import create_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVER = """
import json, os, sys
from werkzeug.serving import run_simple
from admin_app import create_app
config = json.loads(os.environ["DD_TEST_CONFIG"])
run_simple("127.0.0.1", int(sys.argv[1]), create_app(config), threaded=True)
"""


def redis_is_up() -> bool:
    parts = urllib.parse.urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_is_up(), reason=f"Redis is not reachable at {REDIS_URL}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: dict, tmp_path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, DD_TEST_CONFIG=json.dumps(config))
    log = open(tmp_path / f"server-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stdout=log, stderr=log,
                               cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/login", timeout=1)
            return process, base
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise AssertionError((tmp_path / f"server-{port}.log").read_text())


def post_login(base: str, username: str, password: str) -> int:
    data = urllib.parse.urlencode({"username": username, "password": password}).encode()
    request = urllib.request.Request(base + "/login", data=data, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        return urllib.request.build_opener(NoRedirect).open(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_per_username_limit_holds_across_two_processes(database_url, engine, world, session, tmp_path):
    username = world.viewer.username
    session.commit()
    session.close()  # hold no SQLite lock while the servers sign in
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "two-processes",
              "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URL,
              "RATELIMIT_KEY_PREFIX": f"dd-test-{uuid.uuid4().hex}", "LOGIN_LIMIT_PER_USERNAME": "5 per 15 minutes",
              "LOGIN_LIMIT_PER_ADDRESS": "100 per 15 minutes", "REPORTS_DIR": str(tmp_path)}
    servers = [start_server(config, tmp_path) for _ in range(2)]
    try:
        answers = [post_login(servers[i % 2][1], username, "wrong-password")
                   for i in range(10)]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)
    assert answers == [401] * 5 + [429] * 5, answers


def test_the_app_starts_with_redis_storage(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x",
                      "REPORTS_DIR": str(tmp_path)})
    assert app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    assert app.test_client().get("/login").status_code == 200
