"""The batch import pages and the import command: role and scope, summary, template, error report, exit codes."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from factories import make_uscc
from importer_files import org_row, person_row, registration_book, xlsx
from models import Organization, Person, QuotaAllocation, SubDelegation
from test_importers import QUOTA_HEADER, TARGETS_HEADER, table_counts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client, kind, data, filename="data.xlsx", **form):
    return client.post(f"/admin/imports/{kind}", data={"file": (io.BytesIO(data), filename), **form},
                       content_type="multipart/form-data")


def report_url(html: str) -> str:
    start = html.index("/admin/imports/report/")
    return html[start:html.index('"', start)]


def test_each_role_sees_the_importers_it_may_run(app, world, client_for):
    expected = {world.secretariat: ["targets", "quotas", "registration", "review"],
                world.admins["GZ"]: ["quotas", "registration"], world.finance: ["payments"]}
    for user, kinds in expected.items():
        client = client_for(user)
        page = client.get("/admin/imports/").text
        for kind in ("targets", "quotas", "registration", "review", "payments"):
            assert (f'href="/admin/imports/{kind}"' in page) == (kind in kinds), (user.role, kind)
            assert client.get(f"/admin/imports/{kind}").status_code == (200 if kind in kinds else 404)
    viewer = client_for(world.viewer)
    assert viewer.get("/admin/imports/").status_code == 403
    assert "/admin/imports/" not in viewer.get("/admin/").text
    assert app.test_client().get("/admin/imports/").status_code == 302


def test_a_valid_upload_imports_and_shows_the_summary(app, world, client_for, session):
    client = client_for(world.admins["GZ"])
    uscc = make_uscc()
    page = upload(client, "registration", registration_book([org_row("甲", uscc, "GZ")], [person_row(uscc, 1)]))
    assert page.status_code == 200 and "导入成功" in page.text and "登记人员：1" in page.text
    session.expire_all()
    assert session.scalar(select(Person.name)) == "人员1"


def test_a_bad_upload_changes_nothing_and_offers_its_report_to_the_uploader_only(app, world, client_for, session):
    client = client_for(world.secretariat)
    before = table_counts(session)
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, 400], [2, "无此分团", 5]]
    page = upload(client, "targets", xlsx({"S": rows}))
    assert "文件有错误，未导入任何数据" in page.text and "无此分团" in page.text
    assert table_counts(session) == before
    url = report_url(page.text)
    report = client.get(url)
    assert report.status_code == 200 and report.mimetype == XLSX
    book = openpyxl.load_workbook(io.BytesIO(report.data))
    assert book["S"]["D3"].value.startswith("交易分团「无此分团」不存在")
    other = client_for(world.admins["GZ"])
    assert other.get(url).status_code == 404
    assert client.get("/admin/imports/report/" + "0" * 32).status_code == 404
    assert client.get("/admin/imports/report/..%2F..%2Fsecret").status_code == 404


def test_the_template_downloads_with_the_users_sub_delegations(app, world, client_for):
    client = client_for(world.admins["GZ"])
    response = client.get("/admin/imports/registration/template")
    assert response.status_code == 200 and response.mimetype == XLSX
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:2] == ["单位", "人员"]
    sources = [v.formula1 for v in book["单位"].data_validations.dataValidation]
    assert any(world.subs["GZ"].name in (s or "") for s in sources)
    assert not any(world.subs["SZ"].name in (s or "") for s in sources)
    english = client.get("/admin/imports/registration/template?lang=en")
    assert "Organisations" in openpyxl.load_workbook(io.BytesIO(english.data)).sheetnames


def test_scope_refusal_for_a_sub_delegation_admin(app, world, client_for, session):
    client = client_for(world.admins["GZ"])
    rows = [QUOTA_HEADER + ["交易分团"], [make_uscc(), "甲", 1, 1, world.subs["SZ"].name]]
    page = upload(client, "quotas", xlsx({"S": rows}))
    assert "超出权限范围" in page.text and "不存在或不在您的权限范围内" in page.text
    session.expire_all()
    assert session.scalar(select(QuotaAllocation.id)) is None


def test_dry_run_english_and_the_size_limit(app, world, client_for, session, monkeypatch):
    client = client_for(world.secretariat)
    rows = [TARGETS_HEADER, [1, world.subs["GZ"].name, 77]]
    page = upload(client, "targets", xlsx({"S": rows}), dry_run="y")
    assert "试运行" in page.text
    session.expire_all()
    assert session.get(SubDelegation, world.subs["GZ"].id).recruitment_target != 77
    english = client.post("/admin/imports/targets?lang=en", data={"file": (io.BytesIO(b""), "empty.csv")},
                          content_type="multipart/form-data")
    assert english.status_code == 200
    bad = upload(client, "targets?lang=en", b"\x89PNG\r\n\x1a\n\x00\x00", filename="x.png")
    assert "Unsupported file type" in bad.text
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024)
    big = upload(client, "targets", b"a" * 2048, filename="big.csv")
    assert "文件不能超过" in big.text or "may not exceed" in big.text


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_exit_codes_report_and_dry_run(app, world, session, tmp_path):
    session.commit()
    good = tmp_path / "targets.xlsx"
    good.write_bytes(xlsx({"S": [TARGETS_HEADER, [1, world.subs["GZ"].name, 55]]}))
    dry = run_cli(app, "import", "targets", str(good), "--as", world.secretariat.username, "--dry-run")
    assert dry.exit_code == 0, dry.output
    session.expire_all()
    assert session.get(SubDelegation, world.subs["GZ"].id).recruitment_target != 55
    done = run_cli(app, "import", "targets", str(good), "--as", world.secretariat.username)
    assert done.exit_code == 0 and "更新交易分团：1" in done.output, done.output
    session.expire_all()
    assert session.get(SubDelegation, world.subs["GZ"].id).recruitment_target == 55

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx({"S": [TARGETS_HEADER, [1, "无此分团", 5]]}))
    before = table_counts(session)
    refused = run_cli(app, "import", "targets", str(bad), "--as", world.secretariat.username)
    assert refused.exit_code == 2, refused.output
    report = tmp_path / "bad-错误报告.xlsx"
    assert f"错误报告：{report}" in refused.output and report.is_file()
    assert table_counts(session) == before
    elsewhere = tmp_path / "out" / "r.xlsx"
    elsewhere.parent.mkdir()
    english = run_cli(app, "import", "targets", str(bad), "--as", world.secretariat.username, "--report",
                      str(elsewhere), "--lang", "en")
    assert english.exit_code == 2 and "Error report" in english.output and elsewhere.is_file()

    assert run_cli(app, "import", "targets", str(good), "--as", "nobody").exit_code == 1
    not_allowed = run_cli(app, "import", "targets", str(good), "--as", world.admins["GZ"].username)
    assert not_allowed.exit_code == 1 and "不能导入" in not_allowed.output


def test_cli_registration_and_template(app, world, session, tmp_path):
    session.commit()
    uscc = make_uscc()
    book = tmp_path / "批量注册.xlsx"
    book.write_bytes(registration_book([org_row("甲", uscc, "GZ")], [person_row(uscc, 1), person_row(uscc, 2)]))
    result = run_cli(app, "import", "registration", str(book), "--as", world.admins["GZ"].username)
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.scalar(select(Organization.uscc)) == uscc
    out = tmp_path / "t.xlsx"
    assert run_cli(app, "import-template", "payments", "--out", str(out)).exit_code == 0
    assert openpyxl.load_workbook(out).sheetnames == ["支付对账单"]
