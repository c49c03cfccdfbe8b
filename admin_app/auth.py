"""Login, logout and the user loader; failed logins are throttled per username and per address.

A session is a signed cookie holding "user id:session version"; the loader refuses a cookie whose
version is no longer the user's, so logout, a password, role or scope change and deactivation end
every session of that user on the server. Idle sessions expire after PERMANENT_SESSION_LIFETIME.
"""
from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin_app.extensions import db, limiter, login_manager
from admin_app.security import safe_redirect_target
from models import User
from models.delegation.operations import authenticate
from models.passwords import normalise_username

bp = Blueprint("auth", __name__)

MESSAGES = {
    "zh": {"title": "登录", "username": "用户名", "password": "密码", "submit": "登录",
           "failed": "用户名或密码错误", "throttled": "登录失败次数过多，请 15 分钟后再试。",
           "login_required": "请先登录。", "logged_out": "您已退出登录。", "product": "交易团管理后台"},
    "en": {"title": "Sign in", "username": "Username", "password": "Password", "submit": "Sign in",
           "failed": "Wrong username or password", "throttled": "Too many failed sign-ins; try again in 15 minutes.",
           "login_required": "Please sign in.", "logged_out": "You have signed out.", "product": "Delegation Desk"},
}


def text(key: str) -> str:
    """A login-page message in the current language."""
    lang = "en" if str(get_locale() or "zh_CN").startswith("en") else "zh"
    return MESSAGES[lang][key]


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


def _username_key() -> str:
    """Throttle per username as it will be looked up: ' Admin ' and 'admin' share one counter."""
    return "login-user:" + normalise_username(request.form.get("username"))


def _failed(response) -> bool:
    """Only failed attempts count against the limits (a success redirects)."""
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    return safe_redirect_target(target, url_for("admin.index"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: _config("LOGIN_LIMIT_PER_USERNAME"), key_func=_username_key, methods=["POST"],
               deduct_when=_failed)
@limiter.limit(lambda: _config("LOGIN_LIMIT_PER_ADDRESS"), key_func=get_remote_address, methods=["POST"],
               deduct_when=_failed)
def login():
    form = LoginForm()
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error = None
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data, form.password.data)
        if user is not None:
            session.clear()  # no value from before sign-in survives into the signed-in session
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without a request
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = text("failed")
    return render_template("login.html", form=form, error=error, t=text), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # End the session on the server too: a copy of this cookie must open nothing afterwards.
        user = db.session.get(User, current_user.id)
        user.end_sessions()
        db.session.commit()
    logout_user()
    session.clear()
    flash(text("logged_out"), "info")
    return redirect(url_for("auth.login"))


def _config(name: str) -> str:
    from flask import current_app

    return current_app.config[name]


def init_app(app: Flask) -> None:
    """Register the blueprint, the user loader and the throttling page."""
    app.register_blueprint(bp)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(token: str):
        user_id, _, version = (token or "").partition(":")
        if not (user_id.isdigit() and version.isdigit()):
            return None  # a cookie from before session versions, or forged
        # One statement: the user and the sub-delegations its scope needs.
        user = db.session.get(User, int(user_id), options=[joinedload(User.sub_delegations)])
        if user is None or not user.active or (user.session_version or 0) != int(version):
            return None
        return user

    @app.errorhandler(TooManyRequests)
    def throttled(error):
        form = LoginForm()
        return render_template("login.html", form=form, error=text("throttled"), t=text), 429
