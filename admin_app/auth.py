"""Login, logout and the user loader; failed logins are throttled per username and per address."""
from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin_app.extensions import db, limiter, login_manager
from models import User
from models.operations import authenticate

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
    return "login-user:" + (request.form.get("username") or "").strip().lower()


def _failed(response) -> bool:
    """Only failed attempts count against the limits (a success redirects)."""
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else url_for("admin.index")


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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = text("failed")
    return render_template("login.html", form=form, error=error, t=text), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
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
    def load_user(user_id: str):
        # One statement: the user and the sub-delegations its scope needs.
        user = db.session.get(User, int(user_id), options=[joinedload(User.sub_delegations)])
        return user if user is not None and user.active else None

    @app.errorhandler(TooManyRequests)
    def throttled(error):
        form = LoginForm()
        return render_template("login.html", form=form, error=text("throttled"), t=text), 429
