"""Background jobs in a real browser: the secretariat asks for every sub-delegation's workbook (a zip) and runs
证件制作 on every approved person, beyond a small BATCH_INLINE_ROWS; both become jobs, which 我的任务 shows
queued (when Redis answers: an in-process RQ worker then runs them) and finished, with their downloads."""
from __future__ import annotations

import io
import os
import re
import socket
import urllib.parse
import uuid
import zipfile

import openpyxl
import pytest
from playwright.sync_api import expect

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable_redis() -> str | None:
    parts = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
    except OSError:
        return None
    return REDIS_URL


@pytest.fixture
def small_jobs(live_server, monkeypatch):
    """Small thresholds and, when Redis answers, a queue of this test's own; the queue name or None (inline)."""
    app, redis_url = live_server.app, reachable_redis()
    queue_name = f"dd-browser-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue_name)
    monkeypatch.setitem(app.config, "BATCH_INLINE_ROWS", 5)
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 50)
    app.extensions.pop("dd_jobs_redis", None)
    yield queue_name if redis_url else None
    app.extensions.pop("dd_jobs_redis", None)
    if redis_url:
        from redis import Redis

        redis = Redis.from_url(redis_url)
        keys = list(redis.scan_iter(f"*{queue_name}*"))
        if keys:
            redis.delete(*keys)


def run_worker(live_server) -> None:
    """An RQ worker in this process, in the served app, until the queue is empty."""
    from redis import Redis
    from rq import SimpleWorker

    from jobs.queue import queue

    with live_server.app.app_context():
        SimpleWorker([queue()], connection=Redis.from_url(live_server.app.config["REDIS_URL"])).work(burst=True)


def saved(download) -> bytes:
    with open(download.value.path(), "rb") as handle:
        return handle.read()


def test_the_secretariat_follows_an_export_and_a_batch_on_my_jobs(tab, live_server, small_jobs):
    page = tab.login("secretariat", "/admin/reports/")
    page.locator("#report-sub-delegation button[type=submit]").click()  # 全部交易分团（zip）, the default
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/admin/jobs/") and "导出已转为后台任务" in page.inner_text("body")

    tab.goto("/admin/person/?flt0_0=approved")
    page.get_by_text("对全部筛选结果执行").click()
    page.locator(".dropdown-menu.show a", has_text="证件制作").click()
    page.wait_for_load_state("networkidle")
    count = int(re.search(r"全部\s*(\d+)\s*条", page.inner_text(".alert")).group(1))
    assert count > 5
    page.locator("button[type=submit]", has_text="确认执行").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/admin/jobs/") and f"共 {count:,} 条，已转为后台任务" in page.inner_text("body")

    rows = page.locator("tr[data-job]")
    batch_row, export_row = rows.nth(0), rows.nth(1)
    assert f"批量「证件制作」（{count:,} 条）" in batch_row.inner_text()
    assert "导出「交易分团工作簿」（全部交易分团）" in export_row.inner_text()
    if small_jobs:  # on RQ: both wait for a worker, their bars at 0 while the page polls
        assert [batch_row.get_attribute("data-state"), export_row.get_attribute("data-state")] == ["queued"] * 2
        assert page.locator(".dd-job-bar .progress-bar").count() >= 2
        tab.screenshot("jobs-1-queued")
        run_worker(live_server)
    # The page's own polling sees both end and reloads with the results.
    expect(page.locator("tr[data-job]").nth(0)).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.locator("tr[data-job]").nth(1)).to_have_attribute("data-state", "done", timeout=30_000)
    page.wait_for_load_state("networkidle")
    tab.screenshot("jobs-2-done")
    batch_row, export_row = page.locator("tr[data-job]").nth(0), page.locator("tr[data-job]").nth(1)
    assert f"「证件制作」已完成 {count:,} 条，未执行 0 条" in batch_row.inner_text()
    assert f"{count} / {count}" in batch_row.inner_text()
    assert batch_row.locator(".progress-bar").evaluate("bar => bar.style.width") == "100%"

    with page.expect_download() as report:
        batch_row.locator("a", has_text="下载").click()
    assert report.value.suggested_filename == "证件制作_逐条结果.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(saved(report))).active
    assert [c.value for c in sheet[1]] == ["编号", "名称", "结果", "未执行原因"]
    assert sheet.max_row - 1 == count
    with page.expect_download() as workbooks:
        export_row.locator("a", has_text="下载").click()
    assert workbooks.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(saved(workbooks))) as archive:
        assert len(archive.namelist()) > 1 and all(n.endswith(".xlsx") for n in archive.namelist())
    assert tab.csp_errors() == []
