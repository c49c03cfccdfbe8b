"""报表 / Reports page: five downloads within the user's scope, masked for viewers; and the dashboard's quota figures."""
from __future__ import annotations

import io
import zipfile
from datetime import date

import pandas as pd

from factories import make_person
from models import Label, Organization, Person, PersonState
from reports.quota import dashboard_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = ("sub-delegation", "quota-dashboard", "weekly-progress", "finance", "deal-intentions")


def sheets(data: bytes) -> dict[str, pd.DataFrame]:
    return pd.read_excel(io.BytesIO(data), sheet_name=None, engine="calamine", dtype=str)


def test_reports_page_lists_the_five_exports_in_chinese_then_english(world, rows, client_for):
    client = client_for(world.secretariat)
    html = client.get("/admin/reports/").text
    assert "报表" in html and "配额看板" in html and "招商周进度" in html and "财务对账" in html
    for kind in KINDS:
        assert f'action="/admin/reports/download/{kind}"' in html
    assert "全部交易分团（zip）" in html and 'type="week"' in html
    english = client.get("/admin/reports/?lang=en").text
    assert "Quota dashboard" in english and "Every sub-delegation (zip)" in english


def test_a_sub_delegation_admin_chooses_among_their_own_only(world, rows, client_for):
    client = client_for(world.admins["GZ"])
    html = client.get("/admin/reports/").text
    assert 'value="GZ"' in html and 'value="SZ"' not in html and "深圳交易分团" not in html
    refused = client.get("/admin/reports/download/sub-delegation?sub=SZ", follow_redirects=True)
    assert "不在您的权限范围内" in refused.text and refused.headers["Content-Type"].startswith("text/html")
    own = client.get("/admin/reports/download/sub-delegation?sub=GZ")
    assert own.status_code == 200 and own.headers["Content-Type"] == XLSX
    assert list(sheets(own.data)["单位"]["单位名称"]) == ["GZ单位甲"]
    for kind in KINDS[1:]:
        response = client.get(f"/admin/reports/download/{kind}")
        assert response.status_code == 200 and response.headers["Content-Type"] == XLSX, kind
        assert "深圳" not in "".join(frame.to_csv() for frame in sheets(response.data).values()), kind


def test_every_workbook_as_a_zip_for_the_secretariat(app, world, rows, client_for, monkeypatch):
    """Every workbook is written by a background job (inline without Redis); 我的任务 offers the zip."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    client = client_for(world.secretariat)
    started = client.post("/admin/reports/download/sub-delegation", data={"sub": "all"})
    assert started.status_code == 302 and started.headers["Location"].endswith("/admin/jobs/")
    jobs_page = client.get("/admin/jobs/").text
    assert "导出已转为后台任务" in jobs_page and "全部交易分团" in jobs_page, jobs_page[-3000:]
    link = next(part.split('"')[0] for part in jobs_page.split('href="')[1:] if part.startswith("/admin/jobs/")
                and "/download" in part.split('"')[0])
    response = client.get(link)
    assert response.status_code == 200 and ".zip" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["广州交易分团-GZ.xlsx", "深圳交易分团-SZ.xlsx"]
    # A job is started by the page's form: a followed link only says so.
    followed = client.get("/admin/reports/download/sub-delegation?sub=all", follow_redirects=True)
    assert "请在本页点击「下载」" in followed.text


def test_viewer_downloads_are_masked(world, rows, client_for, session):
    person = session.get(Person, rows.of["GZ"][Person])
    person.birth_date = date(1990, 5, 17)
    session.commit()
    data = client_for(world.viewer).get("/admin/reports/download/sub-delegation?sub=GZ").data
    row = sheets(data)["参观人员"].iloc[0]
    assert row["证件号码"] != person.id_number and "*" in row["证件号码"]
    assert row["手机"] == person.mobile[:3] + "****" + person.mobile[-4:] and row["出生日期"] == "1990"
    assert "已脱敏" in client_for(world.viewer).get("/admin/reports/").text


def test_weekly_progress_takes_the_week_picker_value_and_refuses_a_bad_one(world, rows, client_for):
    client = client_for(world.secretariat)
    response = client.get("/admin/reports/download/weekly-progress?week=2025-W41")
    assert response.status_code == 200 and "2025-W41" in response.headers["Content-Disposition"]
    assert "周进度 2025-W41" in sheets(response.data)
    refused = client.get("/admin/reports/download/weekly-progress?week=2025-W99", follow_redirects=True)
    assert "YYYY-Www" in refused.text
    unknown = client.get("/admin/reports/download/nothing", follow_redirects=True)
    assert "未知的报表" in unknown.text


def test_reports_need_a_signed_in_user(app, world, session):
    session.commit()
    response = app.test_client().get("/admin/reports/download/quota-dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_dashboard_shows_labels_against_quotas_and_co_payment_per_sub_delegation(world, rows, client_for, session):
    org = session.get(Organization, rows.of["GZ"][Organization])
    make_person(session, org, label=Label.VIP, state=PersonState.APPROVED)
    session.commit()
    html = client_for(world.admins["GZ"]).get("/admin/").text
    figures, _ = dashboard_rows(session, world.admins["GZ"])
    assert 'class="table table-sm table-hover dd-quotas"' in html and "深圳交易分团" not in html
    assert f'{figures[0]["vip_used"]} / {figures[0]["vip_quota"]}' in html
    assert "统付额度（已用/额度）" in html and "下载配额看板" in html
    html = client_for(world.secretariat).get("/admin/?lang=en").text
    assert "Labels against quotas" in html and "深圳交易分团" in html
