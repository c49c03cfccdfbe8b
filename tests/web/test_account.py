"""Every user manages their own account; the secretariat creates users and resets passwords in the UI."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from factories import PASSWORD
from models import AuditEntry, Role, User


def post_contact(client, **data):
    form = {"contact-display_name": "", "contact-mobile": "", "contact-email": "", "contact-locale": "zh_CN",
            "contact-submit": "1"}
    form.update({f"contact-{k}": v for k, v in data.items()})
    return client.post("/admin/account/", data=form, follow_redirects=True)


def post_password(client, current, new, confirm=None):
    return client.post("/admin/account/", data={"password-current_password": current, "password-new_password": new,
                                                "password-confirm": confirm or new, "password-submit": "1"},
                       follow_redirects=True)


@pytest.mark.parametrize("role", ["secretariat", "finance", "viewer", "admin"])
def test_every_role_has_its_account_page(world, client_for, role):
    user = world.admins["GZ"] if role == "admin" else getattr(world, role)
    page = client_for(user).get("/admin/account/")
    assert page.status_code == 200 and "修改密码" in page.text and user.username in page.text


def test_binding_a_mobile_and_an_email_is_saved_and_audited(world, client_for, session):
    client = client_for(world.viewer)
    page = post_contact(client, mobile="138 0013 8000", email="Li.Na@Example.COM", display_name="领导甲")
    assert "账号信息已保存" in page.text
    session.expire_all()
    user = session.get(User, world.viewer.id)
    assert (user.mobile, user.email, user.display_name) == ("13800138000", "Li.Na@example.com", "领导甲")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.edited",
                                                    AuditEntry.object_id == user.id))
    assert entry.params["mobile"] == [None, "138****8000"]


def test_a_bad_email_is_refused_on_its_field(world, client_for, session):
    page = post_contact(client_for(world.finance), email="not-an-email")
    assert "邮箱格式不正确" in page.text and "invalid-feedback" in page.text
    session.expire_all()
    assert session.get(User, world.finance.id).email is None


def test_changing_ones_password(app, world, client_for, session):
    client = client_for(world.admins["GZ"])
    assert "当前密码不正确" in post_password(client, "wrong-one", "brand-New-pass-42").text
    assert "常见" in post_password(client, PASSWORD, "1234567890").text
    stale = app.test_client()
    stale.post("/login", data={"username": world.admins["GZ"].username, "password": PASSWORD})
    assert "密码已修改" in post_password(client, PASSWORD, "brand-New-pass-42").text
    assert client.get("/admin/").status_code == 200  # this session carries on
    assert stale.get("/admin/").status_code == 302  # the other one ended
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": world.admins["GZ"].username,
                                      "password": "brand-New-pass-42"}).status_code == 302


def test_the_secretariat_creates_a_user_and_resets_a_password(app, world, client_for, session):
    client = client_for(world.secretariat)
    form = client.get("/admin/admin_user/new/")
    assert form.status_code == 200
    created = client.post("/admin/admin_user/new/", data={
        "username": "Zhuhai-Admin", "display_name": "珠海管理员", "role": Role.SUB_DELEGATION_ADMIN.value,
        "sub_delegations": [str(world.subs["SZ"].id)], "locale": "zh_CN", "active": "y",
        "new_password": "zhuhai-Strong-pw-1"})
    assert created.status_code == 302, created.text[:2000]
    user = session.scalar(select(User).where(User.username == "zhuhai-admin"))
    assert user is not None and [s.id for s in user.sub_delegations] == [world.subs["SZ"].id]
    weak = client.post(f"/admin/admin_user/edit/?id={user.id}", data={
        "username": "zhuhai-admin", "display_name": "珠海管理员", "role": Role.SUB_DELEGATION_ADMIN.value,
        "sub_delegations": [str(world.subs["SZ"].id)], "locale": "zh_CN", "active": "y", "new_password": "123"},
        follow_redirects=True)
    assert "至少 10 位" in weak.text
    assert app.test_client().post("/login", data={"username": "zhuhai-admin",
                                                  "password": "zhuhai-Strong-pw-1"}).status_code == 302


def test_deactivating_a_user_in_the_ui_ends_their_sessions(app, world, client_for, session):
    victim = client_for(world.finance)
    assert victim.get("/admin/").status_code == 200
    admin = client_for(world.secretariat)
    response = admin.post(f"/admin/admin_user/edit/?id={world.finance.id}", data={
        "username": world.finance.username, "display_name": "财务", "role": Role.FINANCE.value, "locale": "zh_CN"})
    assert response.status_code == 302, response.text[:1500]
    assert victim.get("/admin/").status_code == 302
