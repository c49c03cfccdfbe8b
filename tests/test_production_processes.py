"""Production shape (issue 11 item 5): two gunicorn app processes and one `rq worker` on one PostgreSQL
database and Redis. A job queued through the first process is finished by the worker (its e-mails reach a
real SMTP server) and followed to the end through the second process.

Skipped when Redis or PostgreSQL is unavailable, or with SKIP_POSTGRES=1. Each run uses its own scratch
database, RQ queue name and result folder; every wait has a deadline, so nothing hangs.
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import (PASSWORD, admin_database_url, create_scratch_database, drop_scratch_database, free_port,
                       make_engine, make_organization, make_world)
from models import BackgroundJob, Channel, JobState, OutboxMessage, OutboxState

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MESSAGES = 3
DEADLINE = 90  # seconds for any one wait; the assertion is on what happened, never on how fast


def reachable(url: str, default_port: int) -> bool:
    parts = urllib.parse.urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(os.environ.get("SKIP_POSTGRES", "").strip().lower() in {"1", "true", "yes"},
                       reason="SKIP_POSTGRES=1"),
    pytest.mark.skipif(not reachable(REDIS_URL, 6379), reason=f"Redis is not reachable at {REDIS_URL}"),
    pytest.mark.skipif(not reachable(admin_database_url(), 5432), reason="PostgreSQL is not reachable"),
]


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.rcpt_tos)
        return "250 OK"


class Browser:
    """A cookie-keeping client for one base URL that signs in through the real login form (CSRF included)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect())

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data).encode(),
                                                 method="POST"))

    def csrf(self, path: str) -> str:
        status, page = self.get(path)
        assert status == 200, (path, status, page[:300])
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def sign_in(self, username: str) -> None:
        token = self.csrf("/login")
        status, page = self.post("/login", {"username": username, "password": PASSWORD, "csrf_token": token})
        assert status == 302, page[:500]

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def wait_until(check, what: str, processes=()):
    """Poll `check` until it returns something truthy; fail (never hang) after DEADLINE seconds."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        for process, log in processes:
            if process.poll() is not None:
                pytest.fail(f"a process ended while waiting for {what}:\n{Path(log).read_text()[-3000:]}")
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def start(command: list[str], env: dict, log: Path) -> tuple[subprocess.Popen, Path]:
    handle = open(log, "w")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return process, log


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def healthy(base: str):
    def check():
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
    return check


@pytest.fixture
def scratch_database():
    url = create_scratch_database(admin_database_url(), prefix="dd_procs")
    try:
        yield url
    finally:
        drop_scratch_database(url, admin_database_url())


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def migrate(url: str, tmp_path: Path) -> None:
    """The schema as production gets it: `flask db upgrade`."""
    env = dict(os.environ, DATABASE_URL=url, REPORTS_DIR=str(tmp_path / "reports"))
    env.pop("REDIS_URL", None)
    done = subprocess.run([str(BIN / "flask"), "--app", "admin_app", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_job_queued_by_one_process_is_finished_by_the_worker_and_seen_by_the_other(scratch_database, smtp,
                                                                                     tmp_path):
    smtp_port, inbox = smtp
    migrate(scratch_database, tmp_path)
    engine = make_engine(scratch_database)
    with Session(engine) as session:
        world = make_world(session)
        org = make_organization(session, world.subs["GZ"])
        session.add_all([OutboxMessage(channel=Channel.EMAIL, recipient=f"buyer{i}@example.cn",
                                       template="organization_approved", object_type="organization",
                                       object_id=org.id, sub_delegation_id=org.sub_delegation_id)
                         for i in range(MESSAGES)])
        session.commit()
        username = world.secretariat.username

    queue = f"dd-test-{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, DATABASE_URL=scratch_database, SECRET_KEY="two-processes-" + uuid.uuid4().hex,
               REDIS_URL=REDIS_URL, RQ_QUEUE=queue, REPORTS_DIR=str(tmp_path / "reports"),
               UPLOADS_DIR=str(tmp_path / "uploads"), SESSION_COOKIE_SECURE="0", MAIL_BACKEND="smtp",
               MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port), MAIL_TIMEOUT="10",
               MAIL_DEFAULT_SENDER="desk@example.cn", WEB_CONCURRENCY="1", GUNICORN_THREADS="2")
    ports = [free_port(), free_port()]
    processes = []
    try:
        for i, port in enumerate(ports):
            processes.append(start([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                                    "admin_app:create_app()"], env, tmp_path / f"web{i}.log"))
        processes.append(start([str(BIN / "rq"), "worker", "--url", REDIS_URL, "-w", "jobs.worker.AppWorker",
                                queue], env, tmp_path / "worker.log"))
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        for base in (first, second):
            wait_until(healthy(base), f"{base}/healthz", processes)

        one = Browser(first)
        one.sign_in(username)
        status, _ = one.post("/admin/jobs/send-outbox", {"csrf_token": one.csrf("/admin/jobs/")})
        assert status == 302

        with Session(engine) as session:
            job = session.scalars(select(BackgroundJob).where(BackgroundJob.kind == "send_outbox")).one()
            job_id = job.id

        other = Browser(second)
        other.sign_in(username)

        def finished():
            status, body = other.get(f"/admin/jobs/status.json?ids={job_id}")
            assert status == 200, body[:300]
            import json

            jobs = json.loads(body)["jobs"]
            return jobs[0] if jobs and jobs[0]["state"] in ("done", "failed") else None

        seen = wait_until(finished, f"job {job_id} to end", processes)
        assert seen["state"] == "done", seen
        assert (seen["done"], seen["total"], seen["percent"]) == (MESSAGES, MESSAGES, 100)
        status, page = other.get("/admin/jobs/")
        assert status == 200 and f"已发送 {MESSAGES} 条" in page

        # The worker ran it: RQ knows the job as finished, and the mails reached the SMTP server.
        from redis import Redis
        from rq.job import Job

        redis = Redis.from_url(REDIS_URL)
        assert Job.fetch(f"dd-job-{queue}-{job_id}", connection=redis).get_status() == "finished"
        assert sorted(r for rcpts in inbox.messages for r in rcpts) == [f"buyer{i}@example.cn" for i in range(MESSAGES)]
        with Session(engine) as session:
            assert set(session.scalars(select(OutboxMessage.state))) == {OutboxState.SENT}
            assert session.get(BackgroundJob, job_id).state is JobState.DONE
    finally:
        for process, _ in processes:
            stop(process)
        engine.dispose()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Leave nothing of this run in the shared Redis."""
    try:
        from redis import Redis

        redis = Redis.from_url(REDIS_URL)
        keys = list(redis.scan_iter(f"*{queue}*", count=500))
        if keys:
            redis.delete(*keys)
    except Exception:  # cleanup only
        pass
