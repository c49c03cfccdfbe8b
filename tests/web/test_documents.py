"""Documents a reviewer can see: licences and photos uploaded in the forms, checked by content, stored under
generated names outside the static folder, served only in scope, previewed on details pages; and an
organisation's details page with its persons, addresses, orders, deal intentions and action buttons."""
from __future__ import annotations

import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from factories import make_organization, make_person, make_uscc
from models import (AuditEntry, DealIntention, InvalidParameter, NotFound, Order, OrgAddress, Organization, Person,
                    PersonState, files)
from test_forms import edit_form_data, org_form

STORED = re.compile(r"(licence|photo)/[0-9a-f]{32}\.(jpg|png)")


def image_bytes(fmt: str, size=(64, 48), noise: bool = False) -> bytes:
    """A real image made with Pillow; with noise it does not compress (for size limits)."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


PNG, JPEG = image_bytes("PNG"), image_bytes("JPEG")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def uploads(app, tmp_path, monkeypatch) -> Path:
    """This test's storage root (the app reads UPLOADS_DIR per request)."""
    root = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOADS_DIR", str(root))
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(data: bytes, filename: str):
    return (io.BytesIO(data), filename)


def with_licence(session, org, root, data=PNG) -> str:
    """Give an organisation a stored licence, as the form would."""
    org.licence_file = files.store("licence", data, root=root)
    session.commit()
    return org.licence_file


# --- uploads in the forms --------------------------------------------------------------------------


def test_a_png_licence_is_stored_under_a_generated_name_and_previewed(world, client_for, session, uploads, app):
    client = client_for(world.admins["GZ"])
    response = client.post("/admin/organization/new/",
                           data={**org_form(world), "licence_upload": upload(PNG, "营业执照 scan.png")})
    assert response.status_code == 302
    org = session.scalar(select(Organization).where(Organization.name == "新建测试单位"))
    assert STORED.fullmatch(org.licence_file) and org.licence_file.startswith("licence/")
    (path,) = stored_files(uploads)
    assert path == uploads / org.licence_file and path.read_bytes() == PNG
    assert "scan" not in path.name and "营业执照" not in path.name
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "organization.created"))
    assert audit.params["licence_file"] == org.licence_file

    details = client.get(f"/admin/organization/details/?id={org.id}").text
    assert f'<img src="/admin/organization/licence/{org.id}"' in details

    served = client.get(f"/admin/organization/licence/{org.id}")
    assert served.status_code == 200 and served.data == PNG
    assert served.mimetype == "image/png"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    cache = served.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache


def test_a_jpeg_photo_is_stored_on_edit_and_an_edit_without_a_file_keeps_it(world, rows, client_for, session,
                                                                            uploads):
    org = session.get(Organization, rows.of["GZ"][Organization])
    person = make_person(session, org, state=PersonState.SAVED, name="带照片的人")
    session.commit()
    client = client_for(world.admins["GZ"])
    data = edit_form_data(client, "person", person.id)
    assert client.post(f"/admin/person/edit/?id={person.id}",
                       data={**data, "photo_upload": upload(JPEG, "me.jpeg")}).status_code == 302
    session.expire_all()
    stored = session.get(Person, person.id).photo
    assert STORED.fullmatch(stored) and stored.endswith(".jpg")
    served = client.get(f"/admin/person/photo/{person.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.data == JPEG
    assert f'<img src="/admin/person/photo/{person.id}"' in client.get(f"/admin/person/details/?id={person.id}").text

    data = edit_form_data(client, "person", person.id)  # the file input comes back empty
    assert client.post(f"/admin/person/edit/?id={person.id}", data={**data, "position": "经理"}).status_code == 302
    session.expire_all()
    assert session.get(Person, person.id).photo == stored and len(stored_files(uploads)) == 1


def test_a_text_file_named_jpg_is_refused_on_the_field_and_nothing_is_written(world, client_for, session, uploads):
    client = client_for(world.admins["GZ"])
    page = client.post("/admin/organization/new/",
                       data={**org_form(world), "licence_upload": upload("这不是图片".encode(), "licence.jpg")})
    assert page.status_code == 200
    assert "单位资质文件须为 jpg 或 png 图片" in page.text
    assert re.search(r'id="licence_upload"[^>]*>\s*<div class="invalid-feedback">.{0,200}<li>单位资质文件须为 jpg 或 png 图片',
                     page.text, re.S)  # under its own field
    assert session.scalar(select(func.count()).select_from(Organization)) == 0
    assert stored_files(uploads) == []


def test_an_image_over_2_mb_is_refused(world, client_for, session, uploads):
    big = image_bytes("PNG", size=(1024, 1024), noise=True)
    assert len(big) > 3 * 1024 * 1024
    client = client_for(world.admins["GZ"])
    page = client.post("/admin/organization/new/", data={**org_form(world), "licence_upload": upload(big, "a.png")})
    assert "文件不能超过 2 MB" in page.text
    assert session.scalar(select(func.count()).select_from(Organization)) == 0
    assert stored_files(uploads) == []


def test_a_pdf_is_refused_for_a_photo(world, rows, client_for, session, uploads):
    person_id = rows.of["GZ"][Person]
    client = client_for(world.secretariat)
    data = edit_form_data(client, "person", person_id)
    page = client.post(f"/admin/person/edit/?id={person_id}", data={**data, "photo_upload": upload(PDF, "photo.jpg")})
    assert "证件照须为 jpg 或 png 图片" in page.text
    session.expire_all()
    assert session.get(Person, person_id).photo is None and stored_files(uploads) == []


def test_a_refused_operation_leaves_no_orphan_file(world, client_for, session, uploads):
    client = client_for(world.admins["GZ"])
    page = client.post("/admin/organization/new/", data={**org_form(world, uscc="91440101MA59ABCD10"),
                                                         "licence_upload": upload(PNG, "ok.png")})
    assert "统一社会信用代码" in page.text
    assert session.scalar(select(func.count()).select_from(Organization)) == 0
    assert stored_files(uploads) == []


def test_the_domain_edit_rules_hold_for_files(world, rows, client_for, session, uploads):
    """A submitted organisation's licence is locked for its sub-delegation; a reused person's photo is card data."""
    client = client_for(world.admins["GZ"])
    org_id = rows.of["GZ"][Organization]  # submitted
    data = edit_form_data(client, "organization", org_id)
    page = client.post(f"/admin/organization/edit/?id={org_id}", data={**data, "licence_upload": upload(PNG, "x.png")})
    assert "单位信息已提交，「单位资质文件」不能再修改" in page.text

    org = session.get(Organization, org_id)
    reused = make_person(session, org, state=PersonState.SAVED, is_reuse=True, name="复用人员")
    session.commit()
    data = edit_form_data(client, "person", reused.id)
    page = client.post(f"/admin/person/edit/?id={reused.id}", data={**data, "photo_upload": upload(JPEG, "y.jpg")})
    assert "证件复用人员的卡面信息「证件照」不能更改" in page.text
    session.expire_all()
    assert session.get(Organization, org_id).licence_file is None and session.get(Person, reused.id).photo is None
    assert stored_files(uploads) == []


def test_saving_a_draft_without_a_licence_is_allowed_with_a_reminder(world, client_for, session, uploads):
    client = client_for(world.admins["GZ"])
    page = client.post("/admin/organization/new/", data=org_form(world), follow_redirects=True)
    assert "尚未上传营业执照" in page.text
    government = client.post("/admin/organization/new/", data=org_form(world, name="某市商务局",
                                                                       category="government_agency"),
                             follow_redirects=True)
    assert "尚未上传" not in government.text
    assert session.scalar(select(func.count()).select_from(Organization)) == 2


# --- serving: scope, unknown ids, forged names --------------------------------------------------------


def test_another_sub_delegations_licence_answers_404(world, rows, client_for, session, uploads):
    sz_org = session.get(Organization, rows.of["SZ"][Organization])
    with_licence(session, sz_org, uploads)
    url = f"/admin/organization/licence/{sz_org.id}"
    forged = client_for(world.admins["GZ"]).get(url)
    unknown = client_for(world.admins["GZ"]).get("/admin/organization/licence/999999")
    assert forged.status_code == 404 and forged.data == unknown.data  # out of scope looks like no row at all
    assert client_for(world.admins["SZ"]).get(url).status_code == 200
    assert client_for(world.secretariat).get(url).status_code == 200
    sz_person = session.get(Person, rows.of["SZ"][Person])
    sz_person.photo = files.store("photo", JPEG, root=uploads)
    session.commit()
    assert client_for(world.admins["GZ"]).get(f"/admin/person/photo/{sz_person.id}").status_code == 404
    assert client_for(world.admins["SZ"]).get(f"/admin/person/photo/{sz_person.id}").status_code == 200


def test_a_viewer_sees_every_licence_and_writes_nothing(world, rows, client_for, session, uploads):
    for code in ("GZ", "SZ"):
        with_licence(session, session.get(Organization, rows.of[code][Organization]), uploads)
    viewer = client_for(world.viewer)
    for code in ("GZ", "SZ"):
        assert viewer.get(f"/admin/organization/licence/{rows.of[code][Organization]}").status_code == 200
    before = sorted(stored_files(uploads))
    org_id = rows.of["GZ"][Organization]
    original = session.get(Organization, org_id).licence_file
    viewer.post(f"/admin/organization/edit/?id={org_id}",
                data={**org_form(world), "licence_upload": upload(JPEG, "v.jpg")})
    viewer.post("/admin/organization/new/", data={**org_form(world, name="只读用户新建"),
                                                  "licence_upload": upload(JPEG, "v.jpg")})
    session.expire_all()
    assert session.get(Organization, org_id).licence_file == original
    assert session.scalar(select(func.count()).select_from(Organization).where(Organization.name == "只读用户新建")) == 0
    assert sorted(stored_files(uploads)) == before
    assert 'name="licence_upload"' not in viewer.get(f"/admin/organization/details/?id={org_id}").text


def test_unknown_ids_rows_without_a_file_and_demo_names_answer_404(world, rows, client_for, session, uploads):
    client = client_for(world.secretariat)
    org = session.get(Organization, rows.of["GZ"][Organization])
    for url in ("/admin/organization/licence/999999", "/admin/organization/licence/abc",
                "/admin/organization/licence/99999999999999999999", f"/admin/organization/licence/{org.id}",
                f"/admin/organization/photo/{org.id}", f"/admin/person/licence/{rows.of['GZ'][Person]}",
                f"/admin/organization/voucher/{org.id}"):
        assert client.get(url).status_code == 404, url
    org.licence_file = "licences/demo/5b0e7e0c-3f1a-4c55-9d43-2f4f1c8f0a11.jpg"  # what the demo seed writes
    session.commit()
    missing = client.get(f"/admin/organization/licence/{org.id}")
    assert missing.status_code == 404 and "文件不存在" in missing.text
    details = client.get(f"/admin/organization/details/?id={org.id}")
    assert details.status_code == 200 and "文件缺失，请重新上传" in details.text
    assert f"/admin/organization/licence/{org.id}" not in details.text


def test_path_traversal_names_are_never_served(world, rows, client_for, session, uploads, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    (uploads / "licence").mkdir(parents=True)
    (uploads / "licence" / "chosen-by-user.png").write_bytes(PNG)
    (uploads / "licence" / ("a" * 32 + ".png")).symlink_to(secret)
    client = client_for(world.secretariat)
    org = session.get(Organization, rows.of["GZ"][Organization])
    for name in ("../secret.png", "licence/../../secret.png", str(secret), "licence/chosen-by-user.png",
                 "licence/" + "a" * 32 + ".png", "licence/" + "A" * 32 + ".png", "licence/" + "a" * 32 + ".png\n"):
        org.licence_file = name
        session.commit()
        assert client.get(f"/admin/organization/licence/{org.id}").status_code == 404, name
    for url in ("/admin/organization/licence/..%2F..%2Fsecret.png", "/admin/organization/licence/../../secret.png",
                f"/admin/organization/licence/{org.id}/../../secret.png"):
        assert client.get(url).status_code == 404, url


# --- the organisation's details page --------------------------------------------------------------------


def test_organisation_details_list_its_own_related_rows_only(world, rows, client_for, session, uploads):
    gz = session.get(Organization, rows.of["GZ"][Organization])
    other = make_organization(session, world.subs["GZ"], name="GZ单位乙", uscc=make_uscc())
    make_person(session, other, name="乙单位人员")
    session.add_all([OrgAddress(organization_id=other.id, position=1, recipient="乙单位收件人", mobile="13900000001",
                                address="乙单位地址"),
                     DealIntention(organization_id=other.id, sub_delegation_id=other.sub_delegation_id,
                                   exhibitor="乙单位展商", amount=Decimal("10"), currency="USD"),
                     # inconsistent on purpose: a row of this organisation filed under SZ stays out of GZ's view
                     DealIntention(organization_id=gz.id, sub_delegation_id=world.subs["SZ"].id,
                                   exhibitor="深圳分团名下的展商", amount=Decimal("10"), currency="USD")])
    session.commit()
    page = client_for(world.admins["GZ"]).get(f"/admin/organization/details/?id={gz.id}").text
    for own in ("GZ人员甲", "GZ收件人", "VGZ0001", "GZ展商"):
        assert own in page, own
    for foreign in ("乙单位人员", "乙单位收件人", "乙单位展商", "SZ人员甲", "VSZ0001", "SZ展商", "深圳分团名下的展商"):
        assert foreign not in page, foreign
    for model, endpoint in ((Person, "person"), (OrgAddress, "org_address"), (Order, "badge_order"),
                            (DealIntention, "deal_intention")):
        assert f'href="/admin/{endpoint}/details/?id={rows.of["GZ"][model]}"' in page, endpoint
    assert "深圳分团名下的展商" in client_for(world.secretariat).get(f"/admin/organization/details/?id={gz.id}").text


def test_viewers_see_related_personal_data_masked(world, rows, client_for, session):
    person = session.get(Person, rows.of["GZ"][Person])
    page = client_for(world.viewer).get(f"/admin/organization/details/?id={rows.of['GZ'][Organization]}").text
    assert person.id_number not in page and person.id_number[:3] + "*" in page
    assert "13900000000" not in page  # the address's mobile
    admin_page = client_for(world.admins["GZ"]).get(f"/admin/organization/details/?id={rows.of['GZ'][Organization]}")
    assert person.id_number in admin_page.text


def test_details_carry_the_lists_action_buttons_for_that_row(world, rows, client_for, session):
    org_id = rows.of["GZ"][Organization]  # submitted
    page = client_for(world.admins["GZ"]).get(f"/admin/organization/details/?id={org_id}").text
    assert re.search(rf'href="/admin/organization/transition/approve/\?ids={org_id}&amp;url=[^"]*details', page)
    assert "审核通过（初审）" in page and "退回修改" in page
    assert "/transition/submit/" not in page  # a submitted organisation cannot be submitted again
    assert "/transition/" not in client_for(world.viewer).get(f"/admin/organization/details/?id={org_id}").text


# --- the storage module on its own ------------------------------------------------------------------------


def test_storage_checks_content_and_opens_only_generated_names(tmp_path):
    name = files.store("licence", PNG, root=tmp_path)
    assert STORED.fullmatch(name) and files.open_stored(name, root=tmp_path).read() == PNG
    assert files.content_type(name) == "image/png"
    assert files.store("voucher", PDF, root=tmp_path).endswith(".pdf")  # vouchers (finance) may be pdf
    with pytest.raises(InvalidParameter, match="证件照须为 jpg 或 png 图片"):
        files.store("photo", PDF, root=tmp_path, field="photo")
    with pytest.raises(InvalidParameter, match="图片尺寸过大"):  # a decompression bomb: tiny file, huge canvas
        bomb = io.BytesIO()
        Image.new("1", (12_000, 12_000)).save(bomb, "PNG")
        files.store("licence", bomb.getvalue(), root=tmp_path)
    with pytest.raises(InvalidParameter, match="jpg 或 png"):
        files.store("licence", PNG[:-30], root=tmp_path)  # a truncated PNG fails verify()
    with pytest.raises(InvalidParameter) as refused:
        files.store("licence", b"", root=tmp_path, field="licence_file")
    assert refused.value.field == "licence_file"
    for bad in ("../x.png", "/etc/passwd", "licences/demo/x.jpg", None, "photo/" + "0" * 32 + ".gif"):
        with pytest.raises(NotFound):
            files.path_of(bad, root=tmp_path)
    files.remove(name, root=tmp_path)
    assert not files.exists(name, root=tmp_path)
    assert files.needs_licence("enterprise") and not files.needs_licence("government_agency")
    assert not files.needs_licence("overseas_enterprise")


def test_uploads_live_outside_the_static_folder(app, tmp_path, monkeypatch):
    from admin_app import create_app
    from admin_app.config import defaults, from_environment

    assert defaults("/srv/dd/instance")["UPLOADS_DIR"] == "/srv/dd/instance/uploads"
    monkeypatch.setenv("UPLOADS_DIR", "/var/lib/delegation-desk/uploads")
    assert from_environment()["UPLOADS_DIR"] == "/var/lib/delegation-desk/uploads"
    with pytest.raises(RuntimeError, match="static"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}",
                    "UPLOADS_DIR": str(Path(app.static_folder) / "uploads")})
