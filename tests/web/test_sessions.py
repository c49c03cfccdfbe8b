"""Sessions end on the server, redirects stay on the site, every response carries the security headers."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin_app import create_app
from factories import PASSWORD, make_sub_delegation
from models import Role, SubDelegation, User
from models.delegation.operations import set_password
from support import app_config

REDIRECT_BYPASSES = [
    "//evil.example/x", "/\\evil.example", "/%09/evil.example", "/\t/evil.example", "\\\\evil.example",
    "https:evil.example", "https://evil.example/", "http:/\\/evil.example", "javascript:alert(1)",
    " javascript:alert(1)", "%2F%2Fevil.example", "/%2F/evil.example", "/%252F%252Fevil.example",
    "/%5Cevil.example", "/\r\n/evil.example", "\x00//evil.example", "evil.example", "///evil.example",
]


def login(client, username, password=PASSWORD, next_=None):
    url = "/login" if next_ is None else "/login?" + __import__("urllib.parse").parse.urlencode({"next": next_})
    return client.post(url, data={"username": username, "password": password})


def captured_session(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A fresh browser that presents a captured session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/admin/")


@pytest.mark.parametrize("target", REDIRECT_BYPASSES)
def test_next_never_leaves_the_site(app, world, session, target):
    session.commit()
    response = login(app.test_client(), world.secretariat.username, next_=target)
    assert response.status_code == 302
    location = response.location
    assert location.startswith("/") and not location.replace("\\", "/").lstrip("/\t").startswith("/"), location
    assert "evil.example" not in location and "javascript" not in location


def test_next_keeps_a_same_site_path(app, world, session):
    session.commit()
    response = login(app.test_client(), world.secretariat.username, next_="/admin/person/?flt0_0=saved")
    assert response.location == "/admin/person/?flt0_0=saved"


def test_flask_admin_return_urls_are_checked_the_same_way(app, world, rows, session, client_for):
    client = client_for(world.secretariat)
    from models import Organization
    org = rows.of["GZ"][Organization]
    for target in ("/\\evil.example", "/%09/evil.example"):
        response = client.post(f"/admin/organization/transition/return_for_edit/?ids={org}&url={target}",
                               data={"reason": "请补充"})
        assert response.status_code == 200
        assert "evil.example" not in response.text


def test_a_cookie_captured_before_logout_opens_nothing(app, world, session):
    session.commit()
    client = app.test_client()
    assert login(client, world.secretariat.username).status_code == 302
    cookie = captured_session(client)
    assert replay(app, cookie).status_code == 200
    client.post("/logout")
    assert replay(app, cookie).status_code == 302  # to the login page


def test_a_password_change_ends_older_sessions(app, world, session):
    session.commit()
    client = app.test_client()
    login(client, world.admins["GZ"].username)
    cookie = captured_session(client)
    user = session.get(User, world.admins["GZ"].id)
    set_password(user, "another-Strong-pass-9")
    session.commit()
    assert replay(app, cookie).status_code == 302
    assert client.get("/admin/").status_code == 302
    assert login(app.test_client(), user.username, "another-Strong-pass-9").status_code == 302


@pytest.mark.parametrize("change", ["deactivate", "role", "scope"])
def test_deactivation_and_role_or_scope_changes_end_sessions(app, world, session, change):
    session.commit()
    client = app.test_client()
    login(client, world.admins["GZ"].username)
    cookie = captured_session(client)
    user = session.get(User, world.admins["GZ"].id)
    if change == "deactivate":
        user.active = False
    elif change == "role":
        user.role = Role.VIEWER
    else:
        user.sub_delegations.append(session.scalar(select(SubDelegation).where(SubDelegation.code == "SZ")))
    session.commit()
    assert replay(app, cookie).status_code == 302


def test_an_unrelated_edit_keeps_the_session(app, world, session):
    session.commit()
    client = app.test_client()
    login(client, world.finance.username)
    user = session.get(User, world.finance.id)
    user.display_name = "财务新名字"
    session.commit()
    assert client.get("/admin/").status_code == 200


def test_a_cookie_without_a_session_version_is_refused(app, world, session):
    """A cookie signed with the app's key but holding only the user id (the old format) opens nothing."""
    session.commit()
    serializer = app.session_interface.get_signing_serializer(app)
    forged = serializer.dumps({"_user_id": str(world.secretariat.id), "_fresh": True})
    assert replay(app, forged).status_code == 302


def test_idle_sessions_expire(database_url, engine, world, session, tmp_path):
    session.commit()
    app = create_app(app_config(database_url, tmp_path, PERMANENT_SESSION_LIFETIME=timedelta(seconds=1)))
    client = app.test_client()
    login(client, world.viewer.username)
    cookie = captured_session(client)
    assert client.get("/admin/").status_code == 200
    time.sleep(2.2)
    assert replay(app, cookie).status_code == 302


def test_session_cookie_is_secure_unless_turned_off(database_url, engine, world, session, tmp_path, monkeypatch):
    session.commit()
    config = app_config(database_url, tmp_path)
    config.pop("SESSION_COOKIE_SECURE", None)
    secure = login(create_app(config).test_client(), world.viewer.username).headers["Set-Cookie"]
    assert "Secure" in secure
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    plain = login(create_app(config).test_client(), world.viewer.username).headers["Set-Cookie"]
    assert "Secure" not in plain


@pytest.mark.parametrize("path", ["/login", "/admin/", "/admin/person/", "/no-such-page"])
def test_security_headers_on_every_response(app, world, session, client_for, path):
    client = client_for(world.secretariat)
    headers = client.get(path).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp


def test_scripts_carry_the_response_nonce(app, world, session, rows, client_for):
    page = client_for(world.secretariat).get("/admin/person/")
    nonce = page.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    import re
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)


@pytest.mark.parametrize("password, reason", [
    ("short-1", "至少 10 位"), ("1234567890", "过于常见"), ("qwertyuiop", "过于常见"),
    ("aaaaaaaaaaaa", "过于常见"), ("newuser_7", "至少 10 位"), ("newuser_77x", "用户名"),
])
def test_weak_passwords_are_refused(session, world, password, reason):
    from models.errors import InvalidParameter
    from models.delegation.operations import create_user
    with pytest.raises(InvalidParameter, match=reason):
        create_user(session, "newuser_77", password, Role.FINANCE)
    with pytest.raises(InvalidParameter, match=reason.replace("newuser_77", "")):
        set_password(world.finance, password if "用户名" not in reason else world.finance.username + "x")


def test_usernames_are_normalised_for_sign_in_and_throttling(database_url, engine, world, session, tmp_path):
    session.commit()
    app = create_app(app_config(database_url, tmp_path, RATELIMIT_ENABLED=True,
                                LOGIN_LIMIT_PER_USERNAME="3 per 15 minutes",
                                LOGIN_LIMIT_PER_ADDRESS="50 per 15 minutes"))
    name = world.viewer.username
    assert login(app.test_client(), f"  {name.upper()} ").status_code == 302
    client = app.test_client()
    for variant in (name, f" {name}", name.upper()):
        assert login(client, variant, "wrong-password").status_code == 401
    assert login(client, name.title()).status_code == 429


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(database_url, engine, world, session, tmp_path):
    session.commit()
    limits = dict(RATELIMIT_ENABLED=True, LOGIN_LIMIT_PER_USERNAME="100 per 15 minutes",
                  LOGIN_LIMIT_PER_ADDRESS="3 per 15 minutes")
    client = create_app(app_config(database_url, tmp_path, **limits)).test_client()
    for i in range(3):
        client.post("/login", data={"username": f"x{i}", "password": "x"},
                    headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert client.post("/login", data={"username": "x9", "password": "x"},
                       headers={"X-Forwarded-For": "10.0.0.99"}).status_code == 429
    behind_proxy = create_app(app_config(database_url, tmp_path, TRUSTED_PROXIES=1, **limits)).test_client()
    for i in range(5):
        response = behind_proxy.post("/login", data={"username": f"y{i}", "password": "x"},
                                     headers={"X-Forwarded-For": f"10.0.1.{i}"})
        assert response.status_code == 401


def test_unknown_usernames_take_as_long_as_wrong_passwords(session, world):
    """Both answers spend one real scrypt verification (about 0.1 s): timing does not tell usernames apart."""
    from models.delegation.operations import authenticate
    user = session.get(User, world.viewer.id)
    set_password(user, "timing-Check-pass-1")  # a real scrypt hash, like production
    session.flush()

    def median(username):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert authenticate(session, username, "wrong-password-123") is None
            times.append(time.perf_counter() - start)
        return sorted(times)[2]

    known, unknown = median(user.username), median("nobody-at-all")
    assert unknown > known / 3, (known, unknown)


def test_pages_load_nothing_from_other_sites(app, world, session, client_for):
    client = client_for(world.secretariat)
    css = client.get("/theme/bootstrap.min.css")
    assert css.status_code == 200 and "@import" not in css.text and ".btn" in css.text
    for path in ("/login", "/admin/", "/admin/person/"):
        assert "fonts.googleapis" not in client.get(path).text


def test_the_policy_allows_each_bulk_action_handler_and_nothing_else_inline(app, world, session, client_for):
    from admin_app.security import _source_hash
    csp = client_for(world.secretariat).get("/admin/person/").headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src"))
    assert _source_hash("return modelActions.execute('confirm_copay');") in script_src
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
