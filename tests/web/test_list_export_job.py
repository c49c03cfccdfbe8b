"""A list's 导出Excel beyond EXPORT_INLINE_ROWS rows is a background job (issue 11): the button POSTs, a link (GET)
starts nothing, the job rebuilds the owner's search and filters in their scope, masks as their page did, and
its workbook is downloaded from 我的任务 by its owner only."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from factories import make_organization, make_person
from models import BackgroundJob, JobState, OrgState, PersonState


@pytest.fixture(autouse=True)
def large_from_two_rows(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # jobs run inline
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 2)


@pytest.fixture
def persons(session, world):
    """Three persons of 广州 named 王某1..3 and two of 深圳."""
    gz = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    sz = make_organization(session, world.subs["SZ"], state=OrgState.APPROVED)
    made = [make_person(session, gz, state=PersonState.SAVED, name=f"王某{i}") for i in range(1, 4)]
    made += [make_person(session, sz, state=PersonState.SAVED, name=f"深圳人{i}") for i in range(1, 3)]
    session.commit()
    return made


def sheet_rows(data: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def test_a_large_list_export_runs_as_the_owners_job_in_their_scope_and_search(session, world, client_for, persons):
    admin = client_for(world.admins["GZ"])
    link = admin.get("/admin/person/export.xlsx?search=王某")
    assert link.status_code == 302 and session.scalars(select(BackgroundJob)).all() == []  # a GET starts nothing
    started = admin.post("/admin/person/export.xlsx?search=王某")
    assert started.status_code == 302 and started.headers["Location"].endswith("/admin/jobs/")
    session.expire_all()
    [job] = session.scalars(select(BackgroundJob)).all()
    assert job.state == JobState.DONE and job.owner_id == world.admins["GZ"].id
    data = admin.get(f"/admin/jobs/{job.id}/download").data
    rows = sheet_rows(data)
    names = {row[0] for row in rows[1:]}
    assert names == {"王某1", "王某2", "王某3"}  # 深圳's persons are out of scope and out of the search
    number = persons[0].id_number
    assert any(number in str(cell) for row in rows for cell in row)  # an admin sees ID numbers in clear
    assert client_for(world.admins["SZ"]).get(f"/admin/jobs/{job.id}/download").status_code == 404


def test_a_viewers_background_export_is_masked_like_their_page(session, world, client_for, persons):
    viewer = client_for(world.viewer)
    viewer.post("/admin/person/export.xlsx")
    session.expire_all()
    [job] = session.scalars(select(BackgroundJob)).all()
    text = " ".join(str(cell) for row in sheet_rows(viewer.get(f"/admin/jobs/{job.id}/download").data) for cell in row)
    assert all(p.id_number not in text for p in persons) and "*" in text


def test_a_small_list_still_downloads_at_once(session, world, client_for, persons, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_INLINE_ROWS", 100)
    response = client_for(world.admins["GZ"]).post("/admin/person/export.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert session.scalars(select(BackgroundJob)).all() == []
