"""群发邮件 / Mass e-mail: write one message to the organisations the organisation list shows for its current
search and filters (in the writer's scope), preview who gets it, and queue it in the outbox.

The recipients are the organisation view's own selection (WorkflowActionsMixin.matching_selection), so the
page reaches exactly the rows the list shows; the operation limits them to the writer's scope once more.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from models import DomainError, Organization
from models.audit.outbox import MASS_MAIL_ROLES, MAX_BODY, MAX_SUBJECT, mass_mail_recipients, queue_mass_mail
from models.present import masked_columns, shown
from views.i18n import pick, tr

ORGANIZATION_ENDPOINT = "organization"
LIST_ONLY_ARGS = ("page", "page_size", "lang")  # paging and language are not a filter; search, filters and sort travel on
PREVIEW_ROWS = 20


class MassMailForm(FlaskForm):
    subject = StringField(tr(("邮件主题", "Subject")), validators=[DataRequired(), Length(max=MAX_SUBJECT)])
    body = TextAreaField(tr(("邮件正文", "Message")), validators=[DataRequired(), Length(max=MAX_BODY)])


def filter_args() -> dict:
    """The organisation list's search and filters from the current URL."""
    return {k: v for k, v in request.args.items() if k not in LIST_ONLY_ARGS}


def may_mass_mail() -> bool:
    return current_user.is_authenticated and current_user.role in MASS_MAIL_ROLES


def list_links(admin_view) -> list[tuple[str, str]]:
    """Links a list page shows beside its export: the organisation list offers 群发邮件 for its filter."""
    if getattr(admin_view, "endpoint", None) != ORGANIZATION_ENDPOINT or not may_mass_mail():
        return []
    return [(pick(("群发邮件", "Mass e-mail")), url_for("mass_mail.index", **filter_args()))]


class MassMailView(BaseView):
    """Secretariat and sub-delegation admins only; a sub-delegation admin reaches only their organisations."""

    def __init__(self, db, **kwargs):
        super().__init__(**kwargs)
        self.db = db

    def is_accessible(self) -> bool:
        return may_mass_mail()

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        session = self.db.session
        selection = self._selection()
        back = url_for(f"{ORGANIZATION_ENDPOINT}.index_view", **filter_args())
        form = MassMailForm()
        if request.method == "POST" and form.validate_on_submit():
            try:
                queued = queue_mass_mail(session, selection, actor=current_user, subject=form.subject.data,
                                         body=form.body.data)
                session.commit()
            except DomainError as exc:
                session.rollback()
                flash(str(exc), "error")
            else:
                flash(pick((f"已加入发件箱 {queued} 封邮件，发送程序将陆续发出",
                            f"{queued} e-mails queued in the outbox; the sender delivers them shortly")), "success")
                return redirect(back)
        preview = mass_mail_recipients(session, selection, actor=current_user, first=PREVIEW_ROWS)
        masked = masked_columns(Organization, current_user.role)
        rows = [{"name": row.name, "contact": row.contact_name or "",
                 "email": shown(row.contact_email, masked.get("contact_email")) or "",
                 "mobile": shown(row.contact_mobile, masked.get("contact_mobile")) or ""} for row in preview.first]
        return self.render("admin/dd_mass_mail.html", form=form, preview=preview, rows=rows, back=back,
                           filtered=bool(filter_args()), pick=pick)

    def _selection(self):
        """The organisation list's SELECT of ids for the current search and filters (scoped by that view)."""
        for view in self.admin._views:
            if getattr(view, "endpoint", None) == ORGANIZATION_ENDPOINT:
                ids, _count = view.matching_selection()
                return ids
        abort(404)
