"""Background jobs without Redis (inline): state, progress, result file, failure in words, nothing half-written;
the 我的任务 page shows each user only their jobs and serves result files only to their owner."""
from __future__ import annotations

import pytest
from sqlalchemy import select

import jobs
from admin_app.extensions import db
from factories import audit_entries, make_organization
from jobs.runner import results_dir
from models import (BackgroundJob, Channel, DomainError, JobState, OrgState, Organization, OutboxMessage,
                    OutboxState)
from support import rq_queue


@pytest.fixture(autouse=True)
def no_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def submit(app, user, func, params, title="测试任务"):
    with app.app_context():
        return jobs.submit("test", func, owner=user, params=params, title=title)


def job_row(session, job_id) -> BackgroundJob:
    session.expire_all()
    return session.get(BackgroundJob, job_id)


def test_an_inline_job_runs_and_records_progress_summary_and_file(app, session, world):
    session.commit()
    job_id = submit(app, world.secretariat, "job_samples:count_and_write", {"n": 5}, title="导出名单")
    job = job_row(session, job_id)
    assert job.state is JobState.DONE and (job.progress_done, job.progress_total) == (5, 5)
    assert job.summary == "已写入 5 行" and job.result_name == "名单.csv" and job.owner_id == world.secretariat.id
    assert job.started_at is not None and job.finished_at is not None and job.error is None
    with app.app_context():
        assert (results_dir() / job.result_file).read_text(encoding="utf-8").splitlines()[-1] == "第5行"
    [submitted] = audit_entries(session, action="job.submitted")
    assert submitted.object_id == job_id and submitted.actor_id == world.secretariat.id
    assert len(audit_entries(session, action="test.job_wrote")) == 1


def test_a_failing_job_says_why_and_leaves_nothing_half_written(app, session, world):
    org = make_organization(session, world.subs["GZ"], name="原来的名字")
    session.commit()
    job_id = submit(app, world.admins["GZ"], "job_samples:half_then_fail", {"organization_id": org.id})
    job = job_row(session, job_id)
    assert job.state is JobState.FAILED and job.error == "第 2 行：证件号码校验失败"
    assert (job.progress_done, job.progress_total) == (1, 2) and job.result_file is None
    session.expire_all()
    assert session.get(Organization, org.id).name == "原来的名字"
    assert audit_entries(session, action="test.half_written") == []
    with app.app_context():
        assert list(results_dir().glob("*.txt")) == []


def test_an_unexpected_error_is_reported_in_words(app, session, world):
    session.commit()
    job = job_row(session, submit(app, world.viewer, "job_samples:crash", {}))
    assert job.state is JobState.FAILED
    assert job.error.startswith("任务执行出错（ZeroDivisionError）") and "未保存任何修改" in job.error


def test_my_jobs_shows_only_my_jobs_and_downloads_only_mine(app, session, world, client_for):
    session.commit()
    mine = submit(app, world.admins["GZ"], "job_samples:count_and_write", {"n": 3}, title="广州的导出")
    theirs = submit(app, world.admins["SZ"], "job_samples:count_and_write", {"n": 2}, title="深圳的导出")
    client = client_for(world.admins["GZ"])

    page = client.get("/admin/jobs/").text
    assert "广州的导出" in page and "深圳的导出" not in page
    assert f"/admin/jobs/{mine}/download" in page and "已完成" in page

    status = client.get(f"/admin/jobs/status.json?ids={mine},{theirs}").json
    assert [j["id"] for j in status["jobs"]] == [mine]
    assert status["jobs"][0]["percent"] == 100 and status["jobs"][0]["state"] == "done"

    own = client.get(f"/admin/jobs/{mine}/download")
    assert own.status_code == 200 and own.data.decode("utf-8").startswith("第1行")
    assert "attachment" in own.headers["Content-Disposition"]
    assert client.get(f"/admin/jobs/{theirs}/download").status_code == 404
    assert client.get("/admin/jobs/999999/download").status_code == 404
    assert client_for(world.secretariat).get(f"/admin/jobs/{theirs}/download").status_code == 404


def test_the_page_polls_with_a_nonced_script_while_a_job_is_unfinished(app, session, world, client_for):
    session.commit()
    with app.app_context():
        from models.jobs.operations import create_job

        user = db.session.get(type(world.viewer), world.viewer.id)
        job = create_job(db.session, actor=user, kind="test", func_path="job_samples:crash", title="排队中的任务")
        db.session.commit()
    response = client_for(world.viewer).get("/admin/jobs/")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.text and "status.json" in response.text
    assert "排队中" in response.text
    assert "http://" not in response.text.split("<script nonce")[1].split("</script>")[0]  # no CDN


def test_the_secretariat_sends_the_outbox_as_a_job(app, session, world, client_for):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED)
    session.add_all([OutboxMessage(channel=Channel.EMAIL, recipient=f"x{i}@example.cn", template="organization_approved",
                                   object_type="organization", object_id=org.id, sub_delegation_id=org.sub_delegation_id)
                     for i in range(3)])
    session.commit()
    assert client_for(world.admins["GZ"]).post("/admin/jobs/send-outbox").status_code == 403
    response = client_for(world.secretariat).post("/admin/jobs/send-outbox")
    assert response.status_code == 302
    [job] = session.scalars(select(BackgroundJob).where(BackgroundJob.kind == "send_outbox")).all()
    assert job.state is JobState.DONE and job.summary.startswith("已发送 3 条")
    assert (job.progress_done, job.progress_total) == (3, 3)
    session.expire_all()
    assert {m.state for m in session.scalars(select(OutboxMessage))} == {OutboxState.SENT}


def test_cli_sends_the_outbox_and_follows_a_job_with_a_progress_bar(app, session, world):
    org = make_organization(session, world.subs["GZ"])
    session.add(OutboxMessage(channel=Channel.SMS, recipient="13900001111", template="person_please_pay",
                              object_type="organization", object_id=org.id, sub_delegation_id=org.sub_delegation_id))
    session.commit()
    runner = app.test_cli_runner()
    once = runner.invoke(args=["send-outbox", "--batch", "10"])
    assert once.exit_code == 0 and "已发送 1 条" in once.output

    session.add(OutboxMessage(channel=Channel.SMS, recipient="13900002222", template="person_please_pay",
                              object_type="organization", object_id=org.id, sub_delegation_id=org.sub_delegation_id))
    session.commit()
    background = runner.invoke(args=["send-outbox", "--background", "--as", world.secretariat.username])
    assert background.exit_code == 0, background.output
    assert "发送待发消息" in background.output and "已完成：已发送 1 条" in background.output

    refused = runner.invoke(args=["send-outbox", "--background", "--as", world.viewer.username])
    assert refused.exit_code == 1 and "只有秘书处" in refused.output

    job_id = submit(app, world.finance, "job_samples:count_and_write", {"n": 4}, title="财务导出")
    waited = runner.invoke(args=["job-wait", str(job_id), "--timeout", "30"])
    # Not a terminal here: click prints the bar's label and no bar; the outcome follows.
    assert waited.exit_code == 0 and "财务导出" in waited.output and "已写入 4 行" in waited.output
    assert "名单.csv" in waited.output


def test_a_job_that_cannot_be_queued_is_failed_and_refused(app, session, world, monkeypatch):
    session.commit()
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    with app.app_context():
        app.extensions.pop("dd_jobs_redis", None)
        with pytest.raises(DomainError) as refused:
            jobs.submit("test", "job_samples:count_and_write", owner=world.secretariat, params={"n": 1}, title="t")
        app.extensions.pop("dd_jobs_redis", None)
    assert "任务队列（Redis）无法连接" in str(refused.value)
    [job] = session.scalars(select(BackgroundJob)).all()
    assert job.state is JobState.FAILED and "Redis" in job.error


def test_with_redis_the_job_waits_on_the_queue_for_a_worker(app, session, world, monkeypatch):
    from rq import SimpleWorker

    with rq_queue(app, monkeypatch) as redis:
        session.commit()
        with app.app_context():
            app.extensions.pop("dd_jobs_redis", None)
            job_id = jobs.submit("test", "job_samples:count_and_write", owner=world.secretariat, params={"n": 2},
                                 title="排队的任务")
            assert job_row(session, job_id).state is JobState.QUEUED
            from jobs.queue import queue

            SimpleWorker([queue()], connection=redis).work(burst=True)
            app.extensions.pop("dd_jobs_redis", None)
        job = job_row(session, job_id)
        assert job.state is JobState.DONE and job.summary == "已写入 2 行"
