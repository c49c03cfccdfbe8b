"""Login, throttling, CSRF, cookies and the start-up checks."""
from __future__ import annotations

import re

import pytest

from admin_app import create_app
from admin_app.config import MissingSecretKey, running_maintenance_command
from factories import PASSWORD
from support import app_config


def throttled_app(database_url, tmp_path, **extra):
    return create_app(app_config(database_url, tmp_path, RATELIMIT_ENABLED=True,
                                 LOGIN_LIMIT_PER_USERNAME="3 per 15 minutes",
                                 LOGIN_LIMIT_PER_ADDRESS="50 per 15 minutes", **extra))


def test_wrong_password_is_refused_in_chinese(app, world, session):
    session.commit()
    response = app.test_client().post("/login", data={"username": world.secretariat.username, "password": "nope"})
    assert response.status_code == 401 and "用户名或密码错误" in response.text


def test_failed_logins_are_throttled_per_username(database_url, engine, world, session, tmp_path):
    session.commit()
    app = throttled_app(database_url, tmp_path)
    client = app.test_client()
    user = world.secretariat.username
    for _ in range(3):
        assert client.post("/login", data={"username": user, "password": "wrong"}).status_code == 401
    blocked = client.post("/login", data={"username": user, "password": PASSWORD})
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.text
    # another account from the same address still signs in
    other = client.post("/login", data={"username": world.finance.username, "password": PASSWORD})
    assert other.status_code == 302


def test_failed_logins_are_throttled_per_address(database_url, engine, world, session, tmp_path):
    session.commit()
    app = create_app(app_config(database_url, tmp_path, RATELIMIT_ENABLED=True,
                                LOGIN_LIMIT_PER_USERNAME="100 per 15 minutes",
                                LOGIN_LIMIT_PER_ADDRESS="4 per 15 minutes"))
    client = app.test_client()
    for i in range(4):
        client.post("/login", data={"username": f"nobody{i}", "password": "x"})
    assert client.post("/login", data={"username": "nobody9", "password": "x"}).status_code == 429


def test_successful_logins_are_not_counted(database_url, engine, world, session, tmp_path):
    session.commit()
    client = throttled_app(database_url, tmp_path).test_client()
    for _ in range(5):
        assert client.post("/login", data={"username": world.viewer.username, "password": PASSWORD}).status_code == 302
        client.post("/logout")


def test_every_post_needs_a_csrf_token(database_url, engine, world, rows, session, tmp_path):
    app = create_app(app_config(database_url, tmp_path, WTF_CSRF_ENABLED=True))
    client = app.test_client()
    assert client.post("/login", data={"username": world.secretariat.username, "password": PASSWORD}).status_code == 400
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": world.secretariat.username, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    from models import Organization
    org = rows.of["GZ"][Organization]
    forged = client.post(f"/admin/organization/transition/return_for_edit/?ids={org}", data={"reason": "x"})
    assert forged.status_code == 400
    form = client.get(f"/admin/organization/transition/return_for_edit/?ids={org}").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    done = client.post(f"/admin/organization/transition/return_for_edit/?ids={org}",
                       data={"reason": "请补充", "csrf_token": token})
    assert done.status_code == 200 and "已完成 <strong>1</strong> 条" in done.text


def test_session_cookie_is_httponly_and_lax(app, world, session):
    session.commit()
    response = app.test_client().post("/login", data={"username": world.secretariat.username, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_is_a_post(app, world, session, client_for):
    client = client_for(world.secretariat)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_open_redirect_after_login_is_refused(app, world, session):
    session.commit()
    response = app.test_client().post("/login?next=//evil.example/x",
                                      data={"username": world.secretariat.username, "password": PASSWORD})
    assert response.location.endswith("/admin/")


def test_serving_without_secret_key_fails_at_start_up(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr("sys.argv", ["gunicorn", "admin_app:create_app()"])
    with pytest.raises(MissingSecretKey, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def test_data_commands_run_without_secret_key():
    assert running_maintenance_command(["/usr/bin/flask", "--app", "admin_app", "demo"])
    assert running_maintenance_command(["flask", "--app", "admin_app", "db", "upgrade"])
    assert running_maintenance_command(["/usr/lib/python3/site-packages/flask/__main__.py", "--app", "admin_app",
                                        "demo"])
    assert not running_maintenance_command(["flask", "--app", "admin_app", "run"])
    assert not running_maintenance_command(["gunicorn", "admin_app:create_app()"])
