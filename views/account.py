"""My account: every signed-in user changes their own password and binds a mobile and an e-mail."""
from __future__ import annotations

from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from models import DomainError, User
from models.delegation.operations import change_own_password, edit_own_contact
from views.common import SignedInOnly
from views.i18n import pick, tr


class PasswordForm(FlaskForm):
    current_password = PasswordField(tr(("当前密码", "Current password")), validators=[DataRequired()])
    new_password = PasswordField(tr(("新密码", "New password")), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(tr(("再次输入新密码", "New password again")),
                            validators=[DataRequired(), EqualTo("new_password", message="两次输入的新密码不一致")])


class ContactForm(FlaskForm):
    display_name = StringField(tr(("姓名", "Name")), validators=[Optional(), Length(max=100)])
    mobile = StringField(tr(("手机号", "Mobile")), validators=[Optional(), Length(max=20)])
    email = StringField(tr(("邮箱", "E-mail")), validators=[Optional(), Length(max=120)])
    locale = SelectField(tr(("界面语言", "Language")), choices=[("zh_CN", "中文"), ("en", "English")])


class AccountView(SignedInOnly, BaseView):
    """The signed-in user's own page; nothing here reaches another user's account."""

    @expose("/", methods=("GET", "POST"))
    def index(self):
        session = self.db.session
        user = session.get(User, current_user.id)
        contact = ContactForm(prefix="contact", obj=user if request.method == "GET" else None)
        password = PasswordForm(prefix="password")
        if request.method == "POST" and "contact-submit" in request.form and contact.validate():
            values = {"display_name": contact.display_name.data or user.username, "mobile": contact.mobile.data,
                      "email": contact.email.data, "locale": contact.locale.data}
            if self._apply(session, contact, lambda: edit_own_contact(session, user, values, actor=user)):
                flash(pick(("账号信息已保存", "Your account details were saved")), "success")
                return redirect(self.get_url(".index"))
        if request.method == "POST" and "password-submit" in request.form and password.validate():
            if self._apply(session, password, lambda: change_own_password(
                    session, user, password.current_password.data, password.new_password.data, actor=user)):
                # The change ended every session of this user, this one too: sign in again with the new version.
                login_user(user)
                flash(pick(("密码已修改，其他设备上的登录已失效", "Password changed; other sessions were signed out")),
                      "success")
                return redirect(self.get_url(".index"))
        return self.render("admin/dd_account.html", user=user, contact=contact, password=password)

    @staticmethod
    def _apply(session, form, operation) -> bool:
        """Run the operation and commit; a refusal goes under its field (or on top) and nothing is saved."""
        try:
            operation()
            session.commit()
            return True
        except DomainError as exc:
            session.rollback()
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None:
                field.errors = list(field.errors or []) + [str(exc)]
            else:
                flash(str(exc), "error")
            return False
