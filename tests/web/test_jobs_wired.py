"""Imports, exports, batch transitions and batch refunds beyond their inline sizes run as background jobs:
inline here (no REDIS_URL) with small thresholds, and once on RQ with an in-process worker. Each shows on
我的任务 for its owner only, with its progress, a result file only its owner downloads, and a failure that
says why and keeps nothing."""
from __future__ import annotations

import io
import os
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

import jobs.batches
from factories import audit_entries, bulk_persons, make_organization, make_uscc
from importer_files import org_row, person_row, registration_book, xlsx
from jobs.runner import results_dir
from models import (BackgroundJob, DomainError, JobState, Label, OrderLine, Organization, OrgState, Payment,
                    Person, PersonState, Refund, RefundState)
from models.finance import operations as fin
from support import rq_queue
from test_finance import BANK, ordered, paid, set_person_state, submit
from test_finance_views import finance_world
from test_importers import TARGETS_HEADER, table_counts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def small_thresholds(app, monkeypatch):
    """No Redis (jobs run inline), and sizes small enough for a test's few rows to count as large."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "IMPORT_INLINE_ROWS", 3)
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 1)
    monkeypatch.setitem(app.config, "BATCH_INLINE_ROWS", 2)


def the_job(session, kind: str) -> BackgroundJob:
    session.expire_all()
    [job] = session.scalars(select(BackgroundJob).where(BackgroundJob.kind == kind)).all()
    return job


def result_files(app) -> set[str]:
    """The job result files kept so far (the app, and its REPORTS_DIR, serve every test of the session)."""
    with app.app_context():
        folder = results_dir()
        return {p.name for p in folder.iterdir()} if folder.exists() else set()


def only_the_owner_sees_it(client_for, owner, stranger, job) -> bytes:
    """The job is on the owner's 我的任务 with its bar and download, absent from the stranger's; the file's bytes."""
    mine = client_for(owner)
    page = mine.get("/admin/jobs/").text
    assert job.title in page and f"/admin/jobs/{job.id}/download" in page and "已完成" in page
    [status] = mine.get(f"/admin/jobs/status.json?ids={job.id}").json["jobs"]
    assert status["percent"] == 100 and status["total"] == job.progress_total
    other = client_for(stranger)
    assert job.title not in other.get("/admin/jobs/").text
    assert other.get(f"/admin/jobs/status.json?ids={job.id}").json["jobs"] == []
    assert other.get(f"/admin/jobs/{job.id}/download").status_code == 404
    download = mine.get(f"/admin/jobs/{job.id}/download")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    return download.data


def upload(client, kind, data, filename="data.xlsx", **form):
    return client.post(f"/admin/imports/{kind}", data={"file": (io.BytesIO(data), filename), **form},
                       content_type="multipart/form-data")


# --------------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------------

def registration_file(n_persons: int) -> tuple[bytes, str]:
    uscc = make_uscc()
    return registration_book([org_row("后台导入单位", uscc, "GZ")], [person_row(uscc, i) for i in range(n_persons)]), uscc


def test_a_large_upload_is_imported_by_a_job_and_a_small_one_at_once(app, world, session, client_for):
    client = client_for(world.admins["GZ"])
    small, _ = registration_file(0)  # 3 rows with the headers: imported in the request, answered at once
    assert "导入成功" in upload(client, "registration", small).text
    assert session.scalar(select(func.count()).select_from(BackgroundJob)) == 0

    data, _ = registration_file(4)
    page = upload(client, "registration", data, filename="名单.xlsx")
    assert "已转为后台任务" in page.text and 'href="/admin/jobs/"' in page.text
    job = the_job(session, "import")
    assert job.state is JobState.DONE and job.title == "导入「批量注册」：名单.xlsx"
    assert "登记人员：4" in job.summary and job.result_file is None  # a valid file leaves no report
    assert (job.progress_done, job.progress_total) == (2, 2)  # the last stage: writing organisations and persons
    assert session.scalar(select(func.count()).select_from(Person)) == 4
    assert os.listdir(os.path.join(app.config["UPLOADS_DIR"], "import-uploads")) == []  # the stored upload is gone
    page = client_for(world.admins["GZ"]).get("/admin/jobs/").text
    assert job.title in page and "登记人员：4" in page
    assert job.title not in client_for(world.admins["SZ"]).get("/admin/jobs/").text


def test_a_large_file_with_errors_writes_nothing_and_its_job_offers_the_error_report(app, world, session, client_for):
    before = table_counts(session)
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, 400], [2, world.subs["SZ"].name, 300], [3, "无此分团", 5]]
    page = upload(client_for(world.secretariat), "targets", xlsx({"S": rows}))
    assert "已转为后台任务" in page.text
    job = the_job(session, "import")
    assert job.state is JobState.DONE and "文件有错误，未导入任何数据" in job.summary
    assert job.result_name == "导入错误报告.xlsx"
    after = table_counts(session)
    bookkeeping = ("background_job", "audit_entry")  # the job's own row and its job.submitted entry
    assert {t: n for t, n in after.items() if t not in bookkeeping} == \
        {t: n for t, n in before.items() if t not in bookkeeping}
    data = only_the_owner_sees_it(client_for, world.secretariat, world.viewer, job)
    report = openpyxl.load_workbook(io.BytesIO(data))
    assert report.sheetnames[0] == "错误汇总"


def test_an_import_job_that_breaks_mid_way_keeps_nothing(app, world, session, client_for, monkeypatch):
    import importers.registration

    def organisations_then_crash(*args, **kwargs):
        raise RuntimeError("磁盘已满")

    monkeypatch.setattr(importers.registration, "register_persons", organisations_then_crash)
    data, uscc = registration_file(4)
    kept = result_files(app)
    upload(client_for(world.admins["GZ"]), "registration", data)
    job = the_job(session, "import")
    assert job.state is JobState.FAILED and job.error.startswith("任务执行出错（RuntimeError）：磁盘已满")
    assert session.scalar(select(func.count()).select_from(Organization).where(Organization.uscc == uscc)) == 0
    assert job.result_file is None and result_files(app) == kept
    assert os.listdir(os.path.join(app.config["UPLOADS_DIR"], "import-uploads")) == []


def test_the_import_command_queues_with_background_and_keeps_its_exit_codes(app, world, session, tmp_path):
    session.commit()
    data, _ = registration_file(2)
    good = tmp_path / "good.xlsx"
    good.write_bytes(data)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["import", "registration", str(good), "--as", world.admins["GZ"].username,
                               "--background"])
    assert done.exit_code == 0, done.output
    assert "导入「批量注册」：good.xlsx" in done.output and "登记人员：2" in done.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx({"S": [TARGETS_HEADER, [1, "无此分团", 5]]}))
    refused = runner.invoke(args=["import", "targets", str(bad), "--as", world.secretariat.username, "--background",
                                  "--report", str(tmp_path / "r.xlsx")])
    assert refused.exit_code == 2 and (tmp_path / "r.xlsx").exists()
    assert openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames[0] == "错误汇总"


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------

def test_a_large_export_is_written_by_a_job_and_downloaded_from_my_jobs(app, world, rows, session, client_for):
    client = client_for(world.admins["GZ"])
    started = client.post("/admin/reports/download/sub-delegation", data={"sub": "GZ"})
    assert started.status_code == 302 and started.headers["Location"].endswith("/admin/jobs/")
    job = the_job(session, "export")
    assert job.state is JobState.DONE and (job.progress_done, job.progress_total) == (1, 1)
    assert job.title == "导出「交易分团工作簿」（广州交易分团）" and job.result_name.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(only_the_owner_sees_it(client_for, world.admins["GZ"],
                                                                    world.admins["SZ"], job)))
    assert "单位" in book.sheetnames
    # The summaries of a few rows stay direct downloads.
    direct = client.post("/admin/reports/download/quota-dashboard")
    assert direct.status_code == 200 and direct.headers["Content-Type"] == XLSX


def test_an_export_job_that_fails_says_why_and_leaves_no_file(app, world, rows, session, client_for, monkeypatch):
    import reports.catalog

    def half_a_workbook(session, out, **kwargs):
        with open(out, "wb") as partial:
            partial.write(b"PK\x03\x04half")
        raise DomainError("交易分团工作簿写入中断")

    monkeypatch.setattr(reports.catalog, "write_sub_delegation", half_a_workbook)
    kept = result_files(app)
    client_for(world.secretariat).post("/admin/reports/download/sub-delegation", data={"sub": "GZ"})
    job = the_job(session, "export")
    assert job.state is JobState.FAILED and job.error == "交易分团工作簿写入中断"
    assert job.result_file is None and result_files(app) == kept
    assert "交易分团工作簿写入中断" in client_for(world.secretariat).get("/admin/jobs/").text


def test_the_export_command_runs_in_the_background_and_copies_the_zip(app, world, rows, session, tmp_path):
    out = tmp_path / "all.zip"
    done = app.test_cli_runner().invoke(args=["export", "sub-delegation", "--all", "--out", str(out), "--as",
                                              world.secretariat.username, "--background"])
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["广州交易分团-GZ.xlsx", "深圳交易分团-SZ.xlsx"]


# --------------------------------------------------------------------------------------------------
# Batch transitions
# --------------------------------------------------------------------------------------------------

def labelling_world(session, world):
    """Pending persons of GZ: 2 of an organisation with VIP quota, 4 of one without; and rows the filter leaves out."""
    gz = world.subs["GZ"]
    with_quota = make_organization(session, gz, state=OrgState.APPROVED, vip_quota=2)
    without = make_organization(session, gz, state=OrgState.APPROVED, vip_quota=0)
    granted = bulk_persons(session, with_quota, 2, state=PersonState.PENDING_CONFIRMATION)
    refused = bulk_persons(session, without, 4, state=PersonState.PENDING_CONFIRMATION)
    saved = bulk_persons(session, with_quota, 3, state=PersonState.SAVED)
    session.commit()
    return granted, refused, saved


def all_matching_link(client, list_url: str, action: str) -> str:
    listing = client.get(list_url).text
    return re.search(rf'href="([^"]*transition/{action}/[^"]*all=1[^"]*)"', listing).group(1).replace("&amp;", "&")


def labels(session, ids) -> set:
    session.expire_all()
    return {session.get(Person, i).label for i in ids}


def test_all_matching_beyond_the_threshold_runs_as_a_job_on_the_lists_filters(app, world, session, client_for):
    granted, refused, saved = labelling_world(session, world)
    client = client_for(world.admins["GZ"])
    link = all_matching_link(client, "/admin/person/?flt0_0=pending_confirmation", "set_label")
    assert "<strong>6</strong>" in client.get(link).text
    started = client.post(link, data={"label": "vip"})
    assert started.status_code == 302 and started.headers["Location"].endswith("/admin/jobs/")
    job = the_job(session, "batch")
    assert job.params["target"] == {"search": None, "filters": [["0", "pending_confirmation"]]}  # no ids
    assert job.state is JobState.DONE and job.summary == "「标注人员标签」已完成 2 条，未执行 4 条"
    assert job.result_name == "标注人员标签_逐条结果.xlsx"
    assert (job.progress_done, job.progress_total) == (6, 6)
    assert labels(session, granted) == {Label.VIP} and labels(session, refused) == {Label.PROFESSIONAL}
    assert labels(session, saved) == {Label.PROFESSIONAL}  # filtered out: untouched
    report = openpyxl.load_workbook(io.BytesIO(only_the_owner_sees_it(client_for, world.admins["GZ"],
                                                                      world.admins["SZ"], job))).active
    rows = [[c.value for c in r] for r in report.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == sorted(granted + refused)
    assert {r[2] for r in rows if r[0] in granted} == {"已完成"}
    assert all(r[2] == "未执行" and "VIP额度已用完" in r[3] for r in rows if r[0] in refused)


def test_ticked_rows_beyond_the_threshold_travel_as_ids_and_small_ones_stay_inline(app, world, session, client_for):
    granted, refused, _ = labelling_world(session, world)
    client = client_for(world.admins["GZ"])
    small = client.post(f"/admin/person/transition/set_label/?ids={granted[0]},{granted[1]}", data={"label": "staff"})
    assert small.status_code == 200 and "已完成 <strong>2</strong> 条" in small.text  # the result page, at once
    assert session.scalar(select(func.count()).select_from(BackgroundJob)) == 0
    ids = ",".join(str(i) for i in refused)
    started = client.post(f"/admin/person/transition/set_label/?ids={ids}", data={"label": "staff"})
    assert started.status_code == 302
    job = the_job(session, "batch")
    assert job.params["target"] == {"ids": sorted(refused)} and job.summary == "「标注人员标签」已完成 4 条，未执行 0 条"
    assert labels(session, refused) == {Label.STAFF}


def test_a_batch_job_refused_mid_way_keeps_nothing(app, world, session, client_for, monkeypatch):
    granted, refused, _ = labelling_world(session, world)
    before = len(audit_entries(session))

    def refuse(*args, **kwargs):
        raise DomainError("报告写入失败：磁盘空间不足")

    monkeypatch.setattr(jobs.batches, "write_table", refuse)  # after the transition has written its rows
    client = client_for(world.admins["GZ"])
    kept = result_files(app)
    client.post(all_matching_link(client, "/admin/person/?flt0_0=pending_confirmation", "set_label"),
                data={"label": "vip"})
    job = the_job(session, "batch")
    assert job.state is JobState.FAILED and job.error == "报告写入失败：磁盘空间不足"
    assert labels(session, granted + refused) == {Label.PROFESSIONAL}
    assert len(audit_entries(session)) == before + 1  # job.submitted only: no person.label_set kept
    assert job.result_file is None and result_files(app) == kept
    assert "报告写入失败" in client.get("/admin/jobs/").text


# --------------------------------------------------------------------------------------------------
# Batch refunds
# --------------------------------------------------------------------------------------------------

def requested_refunds(session):
    """The finance world and three refunds: two of a transfer to a bank account, one of a QR payment by its route."""
    world = finance_world(session)
    transfer, transferred = ordered(session, world, "GZ", n=2)
    submit(session, world, transfer)
    session.commit()
    fin.verify_payments(session, select(Payment.id), actor=world.finance)
    qr, by_qr = paid(session, world, "GZ", n=1, method="qr_alipay")
    set_person_state(session, transferred + by_qr, PersonState.CANCELLED)
    lines = {order.id: list(session.scalars(select(OrderLine.id).where(OrderLine.order_id == order.id)))
             for order in (transfer, qr)}
    assert fin.request_refund(session, lines[transfer.id], actor=world.admins["GZ"], method="bank_account",
                              **BANK).complete
    assert fin.request_refund(session, lines[qr.id], actor=world.admins["GZ"], method="original_route").complete
    session.commit()
    return world, list(session.scalars(select(Refund.id).order_by(Refund.id)))


def test_a_large_batch_refund_is_a_job_with_the_report_and_the_bank_file(app, session, client_for):
    world, refund_ids = requested_refunds(session)
    finance = client_for(world.finance)
    ids = ",".join(map(str, refund_ids))
    started = finance.post(f"/admin/refund/transition/batch_refund/?ids={ids}&url=/admin/refund/")
    assert started.status_code == 302, started.text[-3000:]
    assert started.headers["Location"].endswith("/admin/jobs/")
    job = the_job(session, "batch")
    assert job.state is JobState.DONE and job.summary.startswith("「批量退款」已完成 3 条，未执行 0 条，退款批次 ")
    assert {session.get(Refund, i).state for i in refund_ids} == {RefundState.REFUNDED}
    batch = session.get(Refund, refund_ids[0]).batch
    assert job.result_name == f"批量退款_{batch}.zip"
    data = only_the_owner_sees_it(client_for, world.finance, world.secretariat, job)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(["逐条结果.xlsx", f"银行批量付款_{batch}.xlsx"])
        bank = openpyxl.load_workbook(io.BytesIO(archive.read(f"银行批量付款_{batch}.xlsx"))).active
        accounts = [r[1].value for r in bank.iter_rows(min_row=2) if r[1].value]
        assert accounts == [BANK["bank_account"]] * 2  # the original-route refund is not the bank's
        report = openpyxl.load_workbook(io.BytesIO(archive.read("逐条结果.xlsx"))).active
        assert [r[2].value for r in report.iter_rows(min_row=2)] == ["已完成"] * 3


def test_a_batch_refund_job_refused_mid_way_refunds_nothing(app, session, client_for, monkeypatch):
    world, refund_ids = requested_refunds(session)

    def bank_down(*args, **kwargs):
        raise DomainError("银行批量付款文件生成失败")

    monkeypatch.setattr(jobs.batches, "write_bank_batch", bank_down)  # after approve and mark_refunded
    finance = client_for(world.finance)
    kept = result_files(app)
    finance.post(f"/admin/refund/transition/batch_refund/?ids={','.join(map(str, refund_ids))}")
    job = the_job(session, "batch")
    assert job.state is JobState.FAILED and job.error == "银行批量付款文件生成失败"
    session.expire_all()
    assert {session.get(Refund, i).state for i in refund_ids} == {RefundState.REQUESTED}
    assert {session.get(Refund, i).batch for i in refund_ids} == {None}
    assert not [e for e in audit_entries(session) if e.action.startswith("refund.") and e.action != "refund.requested"]
    assert result_files(app) == kept


# --------------------------------------------------------------------------------------------------
# On RQ: queued by the page, run by a worker, the selection re-checked when it runs
# --------------------------------------------------------------------------------------------------

def test_on_redis_a_queued_batch_is_rechecked_when_the_worker_runs_it(app, world, session, client_for, monkeypatch):
    from rq import SimpleWorker

    with rq_queue(app, monkeypatch) as redis:
        granted, refused, _ = labelling_world(session, world)
        with app.app_context():
            app.extensions.pop("dd_jobs_redis", None)
        client = client_for(world.admins["GZ"])
        client.post(all_matching_link(client, "/admin/person/?flt0_0=pending_confirmation", "set_label"),
                    data={"label": "staff"})
        job = the_job(session, "batch")
        assert job.state is JobState.QUEUED
        page = client.get("/admin/jobs/").text
        assert "排队中" in page and "status.json" in page  # the bar polls while the job waits
        # Meanwhile one row leaves the selection, another stops being eligible.
        session.get(Person, granted[0]).state = PersonState.SAVED
        session.get(Person, refused[0]).state = PersonState.CANCELLED
        session.commit()
        with app.app_context():
            from jobs.queue import queue

            SimpleWorker([queue()], connection=redis).work(burst=True)
            app.extensions.pop("dd_jobs_redis", None)
        job = the_job(session, "batch")
        assert job.state is JobState.DONE and job.summary == "「标注人员标签」已完成 4 条，未执行 0 条", job.error
        assert labels(session, granted[1:] + refused[1:]) == {Label.STAFF}
        assert labels(session, [granted[0], refused[0]]) == {Label.PROFESSIONAL}
        only_the_owner_sees_it(client_for, world.admins["GZ"], world.secretariat, job)
