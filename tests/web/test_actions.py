"""Workflow actions in the back office: dropdown, row buttons, parameter pages, 'all matching', result reports."""
from __future__ import annotations

import io
import re

import openpyxl
from sqlalchemy import func, select

from factories import bulk_persons, make_organization
from models import AuditEntry, Organization, OrgState, Person, PersonState


def test_action_dropdown_and_row_buttons_follow_the_role(world, rows, client_for):
    sub_admin = client_for(world.admins["GZ"]).get("/admin/organization/").text
    assert "退回修改" in sub_admin and "审核通过（初审）" in sub_admin
    assert "恢复" not in sub_admin  # restore is the secretariat's
    secretariat = client_for(world.secretariat).get("/admin/organization/").text
    assert "审核通过（复审）" in secretariat and "恢复" in secretariat
    viewer = client_for(world.viewer).get("/admin/organization/").text
    assert "退回修改" not in viewer and "transition/" not in viewer


def test_forbidden_action_post_changes_nothing_and_says_why(world, rows, client_for, session):
    org = rows.of["GZ"][Organization]
    response = client_for(world.viewer).post(f"/admin/organization/transition/reject/?ids={org}",
                                             data={"reason": "x"}, follow_redirects=True)
    assert "无权执行「审核不通过」" in response.text
    session.expire_all()
    assert session.get(Organization, org).state is OrgState.SUBMITTED
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("organization.%"))) == 0


def test_missing_reason_re_asks_and_changes_nothing(world, rows, client_for, session):
    org = rows.of["GZ"][Organization]
    response = client_for(world.admins["GZ"]).post(f"/admin/organization/transition/return_for_edit/?ids={org}",
                                                   data={"reason": ""})
    assert response.status_code == 200 and "请填写「退回修改意见」" in response.text
    session.expire_all()
    assert session.get(Organization, org).state is OrgState.SUBMITTED


def test_bulk_action_from_the_list_dropdown_opens_the_parameter_page(world, rows, client_for):
    client = client_for(world.admins["GZ"])
    org = rows.of["GZ"][Organization]
    response = client.post("/admin/organization/action/", data={"action": "return_for_edit", "rowid": [str(org)]})
    assert response.status_code == 302 and f"ids={org}" in response.location
    page = client.get(response.location).text
    assert "退回修改意见" in page and "<strong>1</strong>" in page


def test_all_matching_filters_runs_on_every_filtered_row_and_reports_skips(world, rows, client_for, session):
    gz = world.subs["GZ"]
    org = make_organization(session, gz, state=OrgState.APPROVED, vip_quota=0)
    # The fixture's pending person may be labelled once its organisation is approved.
    session.get(Organization, rows.of["GZ"][Organization]).state = OrgState.APPROVED
    ids = bulk_persons(session, org, 120, state=PersonState.PENDING_CONFIRMATION)
    bulk_persons(session, org, 5, state=PersonState.SAVED)
    session.commit()
    client = client_for(world.admins["GZ"])
    list_url = "/admin/person/?flt0_0=pending_confirmation"  # filter 0: state equals
    listing = client.get(list_url).text
    link = re.search(r'href="([^"]*transition/set_label/[^"]*all=1[^"]*)"', listing).group(1).replace("&amp;", "&")
    page = client.get(link).text
    assert "<strong>121</strong>" in page  # 120 new + the fixture's pending person
    result = client.post(link, data={"label": "vip"})
    # the fixture's person belongs to an organisation with VIP quota; the 120 new ones to one with none
    assert "已完成 <strong>1</strong> 条，未执行 <strong>120</strong> 条" in result.text
    assert "单位VIP额度已用完" in result.text
    token = re.search(r"transition-report/([^\"]+)\.xlsx", result.text).group(1)
    report = client.get(f"/admin/person/transition-report/{token}.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(report.data), read_only=True).active
    assert len(list(sheet.iter_rows(min_row=2))) == 120
    # the report belongs to its author only
    assert client_for(world.admins["SZ"]).get(f"/admin/person/transition-report/{token}.xlsx").status_code == 404
    done = client.post(link, data={"label": "staff"})  # the sub-delegation holds 100 staff badges
    assert "已完成 <strong>100</strong> 条，未执行 <strong>21</strong> 条" in done.text
    assert "交易分团工作人员额度已用完（100/100）" in done.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person).where(Person.label == "staff")) == 100
    assert session.scalar(select(func.count()).select_from(Person).where(
        Person.state == PersonState.SAVED, Person.label == "staff")) == 0  # filtered out rows untouched


def test_reject_asks_for_confirmation_and_is_all_or_nothing(world, rows, client_for, session):
    gz = world.subs["GZ"]
    draft = make_organization(session, gz, state=OrgState.DRAFT)
    session.commit()
    org = rows.of["GZ"][Organization]
    client = client_for(world.admins["GZ"])
    page = client.get(f"/admin/organization/transition/reject/?ids={org},{draft.id}").text
    assert "失去报名资格" in page
    result = client.post(f"/admin/organization/transition/reject/?ids={org},{draft.id}", data={"reason": "资质不符"})
    assert "本批次全部未执行" in result.text
    session.expire_all()
    assert session.get(Organization, org).state is OrgState.SUBMITTED
