"""Every model's back-office view, generated from one registry of specs."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload, selectinload, undefer
from wtforms import PasswordField
from wtforms.validators import Length, Optional

from models import (AuditEntry, Delegation, DealIntention, ExpoEdition, Invoice, Order, OrderLine, OrgAddress,
                    Organization, OutboxMessage, Payment, Person, QuotaAllocation, Refund, Role, SubDelegation, User)
from models.delegation.operations import create_user, edit_user
from models.present import (LOCALE_NAMES, OBJECT_LABELS, action_label, actor_name, audit_actions, describe_params,
                            locale_name, object_label, state_change, template_action, template_label)
from models.registration.quotas import organization_usage, sub_delegation_usage
from models.workflows import ORGANIZATION_WORKFLOW, PERSON_WORKFLOW
from views.base import ALL_ROLES, SECRETARIAT_ONLY, ScopedModelView
from views.dashboard import quota_figures, quota_line
from views.edition_days import EntryDaysField, current_edition_days, edition_day_figures
from views.filters import organization_filters, person_filters
from views.common import lang
from views.documents import DocumentsMixin
from views.finance import (PERSON_MONEY_VERBS, InvoiceView, OrderLineView, OrderView, PaymentView,
                           RefundView)
from views.i18n import pick, tr
from views.transitions import WorkflowActionsMixin

ADMINS = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
MONEY = frozenset({Role.SECRETARIAT, Role.FINANCE})
DELEGATION = tr(("交易团", "Delegation"))
REGISTRATION = tr(("报名审核", "Registration"))
FINANCE = tr(("财务", "Finance"))
RECORDS = tr(("记录", "Records"))


def usage_formatter(used_attr: str, quota_attr: str):
    """'used / allocated', red when all is used."""

    def fmt(view, context, model, name):
        used, quota = getattr(model, used_attr) or 0, getattr(model, quota_attr) or 0
        css = "text-danger font-weight-bold" if quota and used >= quota else ""
        return Markup(f'<span class="{css}">{escape(f"{used:g}" if isinstance(used, float) else used)}'
                      f' / {escape(quota)}</span>')

    return fmt


def deleted_mark(attr: str | None = None):
    """The cell's text, marked 「已删除」 when the row's organisation (the row itself, or its `attr`) is deleted."""

    def fmt(view, context, model, name):
        org = getattr(model, attr) if attr else model
        text = escape(getattr(model, name))
        if org is None or org.deleted_at is None:
            return text
        mark = escape(pick(("已删除", "Deleted")))
        return Markup(f'<span class="badge badge-secondary dd-deleted">{mark}</span> <s>{text}</s>')

    return fmt


class OrganizationView(DocumentsMixin, WorkflowActionsMixin, ScopedModelView):
    workflow = ORGANIZATION_WORKFLOW
    object_type = "organization"
    documents = {"licence": "licence_file"}  # upload field in the forms, served at /admin/organization/licence/<id>
    related_rows = ((Person, ("name", "state", "label", "id_type", "id_number", "mobile")),
                    (OrgAddress, ("position", "recipient", "mobile", "address", "is_default")),
                    (Order, ("number", "state", "payment_method", "total_amount", "created_at")),
                    (DealIntention, ("exhibitor", "amount", "currency", "created_at")))
    write_roles = ADMINS
    # Name, state, USCC and contact mobile stay visible without scrolling on a 1,440-pixel screen.
    column_list = ("name", "state", "uscc", "category", "sub_delegation", "contact_name", "contact_mobile",
                   "vip_quota", "staff_quota", "submitted_at")
    column_default_sort = ("id", True)
    search_prefix = ("name",)
    search_anywhere = ("name",)  # 「传媒」 finds 「广州精芯传媒有限公司」
    search_exact = ("uscc", "contact_mobile")
    search_leading = ("uscc", "contact_mobile")
    enum_filters = ("state", "category")
    column_filters_extra = ()
    form_columns = ("sub_delegation", "edition", "name", "uscc", "category", "region", "referral_code",
                    "contact_name", "contact_mobile", "contact_email", "contact_department", "contact_position",
                    "address", "industry", "purchase_intentions", "exhibition_areas", "vip_quota", "staff_quota",
                    "prior_edition")
    column_details_exclude_list = ()
    column_formatters = {"name": deleted_mark(),
                         "vip_quota": usage_formatter("vip_used", "vip_quota"),
                         "staff_quota": usage_formatter("staff_used", "staff_quota")}

    @property
    def extra_filters(self):
        return organization_filters()  # read once by ScopedModelView.__init__: new filter objects per view

    def list_options(self):
        return (undefer(Organization.vip_used), undefer(Organization.staff_used))

    def details_extra(self, obj):
        return dict(super().details_extra(obj), usage=organization_usage(self.db_session, [obj.id]).get(obj.id))


class PersonView(DocumentsMixin, WorkflowActionsMixin, ScopedModelView):
    workflow = PERSON_WORKFLOW
    verbs = PERSON_MONEY_VERBS  # 生成订单, 申请退款: finance verbs started from the persons they concern
    object_type = "person"
    documents = {"photo": "photo"}  # upload field in the forms, served at /admin/person/photo/<id>
    write_roles = ADMINS
    # Name, state, ID number and mobile stay visible without scrolling on a 1,440-pixel screen.
    column_list = ("name", "state", "label", "copay", "organization", "sub_delegation", "id_type", "id_number",
                   "mobile", "is_reuse")
    column_default_sort = ("id", True)
    search_prefix = ("name",)
    search_exact = ("id_number", "mobile")
    search_leading = ("mobile",)  # '138 0013-8000' finds 13800138000, so does '138001'
    search_casefold = ("id_number",)  # a passport typed in lower case
    enum_filters = ("state", "label", "copay", "region_type", "pickup")
    column_formatters = {"organization": deleted_mark("organization")}
    form_overrides = {"entry_days": EntryDaysField}
    form_columns = ("organization", "name", "gender", "region_type", "id_type", "id_number", "birth_date",
                    "mobile", "email", "position", "entry_days", "pickup", "is_reuse", "prior_badge_number")
    form_ajax_refs = {"organization": {"fields": ("name", "uscc"), "page_size": 20}}
    scope_locked_fields = ("organization",)

    def __init__(self, model, session, **kwargs):
        # Entry days are ticked from the current edition's days, read through this view's session.
        self.form_args = dict(getattr(self, "form_args", None) or {},
                              entry_days={"days": lambda: current_edition_days(self.db_session)})
        super().__init__(model, session, **kwargs)

    @property
    def extra_filters(self):
        return person_filters()  # read once by ScopedModelView.__init__: new filter objects per view

    def list_figures(self):
        return {**quota_figures(current_user), **edition_day_figures()}

    def figures_line(self, figures):
        return quota_line(figures, current_user)


class DealIntentionView(ScopedModelView):
    write_roles = ADMINS
    column_list = ("organization", "sub_delegation", "exhibitor", "amount", "currency", "created_at")
    form_columns = ("organization", "exhibitor", "amount", "currency", "note")
    form_ajax_refs = {"organization": {"fields": ("name", "uscc"), "page_size": 20}}
    scope_locked_fields = ("organization",)
    search_prefix = ("exhibitor",)

class SubDelegationView(ScopedModelView):
    column_list = ("seq", "code", "name", "kind", "recruitment_target", "vip_quota", "staff_quota",
                   "copay_budget", "contact_name", "mobile")
    column_default_sort = "seq"
    search_prefix = ("name",)
    search_exact = ("code",)
    enum_filters = ("kind",)
    form_excluded_columns = ()
    scope_locked_fields = ()
    column_formatters = {"vip_quota": usage_formatter("vip_used", "vip_quota"),
                         "staff_quota": usage_formatter("staff_used", "staff_quota"),
                         "copay_budget": usage_formatter("copay_used", "copay_budget")}

    def list_options(self):
        return (undefer(SubDelegation.vip_used), undefer(SubDelegation.staff_used),
                undefer(SubDelegation.copay_used))

    def details_extra(self, obj):
        return {"usage": sub_delegation_usage(self.db_session, [obj.id]).get(obj.id)}


class UserView(ScopedModelView):
    read_roles = SECRETARIAT_ONLY
    column_list = ("username", "display_name", "role", "sub_delegations", "locale", "active", "created_at")
    search_prefix = ("username", "display_name")
    enum_filters = ("role",)
    form_columns = ("username", "display_name", "role", "sub_delegations", "locale", "active", "new_password")
    form_extra_fields = {"new_password": PasswordField(tr(("新密码", "New password")),
                                                       validators=[Optional(), Length(max=200)])}
    scope_locked_fields = ()
    column_formatters = {"sub_delegations": lambda v, c, m, n: "、".join(s.name for s in m.sub_delegations),
                         "locale": lambda v, c, m, n: locale_name(m.locale, lang())}
    # The interface language is a choice (中文 or English, each named in itself), not free text.
    form_choices = {"locale": list(LOCALE_NAMES.items())}
    form_args = {"locale": {"blank_text": tr(("默认（中文）", "Default (Chinese)"))}}

    def list_options(self):
        return (joinedload(User.sub_delegations),)

    def export_options(self):
        return (selectinload(User.sub_delegations),)  # streams with yield_per, unlike a joined collection

    def create_model(self, form):
        return self._write(form, lambda values: create_user(
            self.db_session, values["username"] or "", form.new_password.data or "", values["role"],
            sub_delegation_codes=[s.code for s in values.get("sub_delegations", [])],
            display_name=values.get("display_name") or "", locale=values.get("locale") or None,
            active=bool(values.get("active", True)), actor=current_user))

    def update_model(self, form, model):
        return bool(self._write(form, lambda values: edit_user(
            self.db_session, model, values, actor=current_user, password=form.new_password.data or None) or model))


def _object_link(view, context, row, name):
    """The object's id, linked to its details page."""
    return view.object_link(row.object_type, row.object_id)


def _words(function):
    """A column formatter from a function of (view, row) that gives the cell's words."""
    return lambda view, context, row, name: function(view, row)


def _params_cell(describe):
    """A list cell of parameters: the first two in words, all of them in the tooltip."""

    def cell(view, context, row, name):
        lines = describe(view, row)
        if len(lines) <= 2:
            return "；".join(lines)
        more = pick((f"；等 {len(lines)} 项", f"; {len(lines)} in all"))
        return Markup('<span title="{}">{}{}</span>').format("\n".join(lines), "；".join(lines[:2]), more)

    return cell


def _params_lines(describe):
    """A details cell of parameters: one per line."""
    return lambda view, context, row, name: Markup("<br>").join(describe(view, row))


def _entry_params(view, row) -> list[str]:
    return describe_params(row.object_type, row.action, row.params, lang(), view.param_names([row]),
                           view.masked_in_entries(row.object_type))


def _message_params(view, row) -> list[str]:
    action = template_action(row.template)  # a message carries the parameters of the transition that wrote it
    names = view.param_names([row], action=lambda message: template_action(message.template))
    return describe_params(row.object_type, action, row.params, lang(), names, view.masked_in_entries(row.object_type))


# The audit log and the outbox in words: what happened, to what, from which state to which, with what.
ENTRY_WORDS = {
    "actor": lambda view, row: actor_name(row.actor, lang()),
    "action": lambda view, row: action_label(row.action, lang()),
    "object_type": lambda view, row: object_label(row.object_type, lang()),
    "states": lambda view, row: state_change(row.object_type, row.from_state, row.to_state, lang()),
    "params": lambda view, row: "；".join(_entry_params(view, row)),
}
MESSAGE_WORDS = {
    "template": lambda view, row: template_label(row.template, row.channel, lang()),
    "object_type": lambda view, row: object_label(row.object_type, lang()),
    "params": lambda view, row: "；".join(_message_params(view, row)),
}


class InWords(FilterEqual):
    """An equality filter whose options are read in the request's language (Flask-Admin reads them once, at start)."""

    def options_now(self, view):
        return self.get_options(view)


class AuditView(ScopedModelView):
    """The audit log in words; each entry's object links to its details page."""

    can_view_details = True
    column_list = ("at", "actor", "action", "object_type", "object_id", "sub_delegation", "states", "params")
    column_details_list = column_list
    column_labels = {"states": tr(("状态变化", "State change")), "params": tr(("内容", "Details"))}
    column_formatters = dict({name: _words(words) for name, words in ENTRY_WORDS.items()},
                             object_id=_object_link, params=_params_cell(_entry_params))
    export_words = ENTRY_WORDS
    column_default_sort = ("id", True)
    search_exact = ("action", "object_type")
    column_filters_extra = ()
    write_roles = frozenset()

    def __init__(self, *args, **kwargs):
        from flask_admin.contrib.sqla.filters import DateBetweenFilter, IntEqualFilter

        self.extra_filters = (FilterEqual(User.username, tr(("操作人", "Actor"))),
                              InWords(AuditEntry.action, tr(("操作", "Action")), options=action_options),
                              InWords(AuditEntry.object_type, tr(("对象类型", "Object type")),
                                      options=object_type_options),
                              IntEqualFilter(AuditEntry.object_id, tr(("对象编号", "Object id"))),
                              DateBetweenFilter(AuditEntry.at, tr(("时间", "At"))))
        super().__init__(*args, **kwargs)
        self.column_formatters_detail = dict(self.column_formatters, params=_params_lines(_entry_params))

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """A page of entries, with the names their parameters refer to looked up at once for the page."""
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if execute:
            self.param_names(rows)
        return count, rows


def action_options() -> list[tuple[str, str]]:
    """Every audit action the domain writes (models.present.audit_actions), as a choice in words."""

    def words(action: str) -> str:
        object_type = action.partition(".")[0]
        return f"{object_label(object_type, lang())}{pick(('：', ': '))}{action_label(action, lang())}"

    return [(action, words(action)) for action in audit_actions()]


def object_type_options() -> list[tuple[str, str]]:
    """The kinds of rows the audit log and the outbox refer to, in words."""
    return [(object_type, object_label(object_type, lang())) for object_type in OBJECT_LABELS]


def read_only(model, roles=ALL_ROLES, **attrs):
    """A view class that lists and shows rows but never writes them."""
    attrs.setdefault("write_roles", frozenset())
    attrs["read_roles"] = roles
    return type(f"{model.__name__}View", (ScopedModelView,), attrs)


def editable(model, roles=SECRETARIAT_ONLY, **attrs):
    """A view class the given roles may edit."""
    attrs["write_roles"] = roles
    return type(f"{model.__name__}View", (ScopedModelView,), attrs)


# (model, view class, menu category). The order is the menu order.
VIEW_SPECS = [
    (Organization, OrganizationView, REGISTRATION),
    (Person, PersonView, REGISTRATION),
    (OrgAddress, editable(OrgAddress, ADMINS, column_list=("organization", "position", "recipient", "mobile",
                                                             "address", "is_default"),
                          form_ajax_refs={"organization": {"fields": ("name", "uscc"), "page_size": 20}},
                          scope_locked_fields=("organization",), search_exact=("mobile",)), REGISTRATION),
    (QuotaAllocation, editable(QuotaAllocation, ADMINS, column_list=("uscc", "organization_name", "sub_delegation",
                                                                     "vip_quota", "staff_quota"),
                               search_prefix=("organization_name",), search_exact=("uscc",)), REGISTRATION),
    (DealIntention, DealIntentionView, REGISTRATION),
    (Order, OrderView, FINANCE),
    (OrderLine, OrderLineView, FINANCE),
    (Payment, PaymentView, FINANCE),
    (Invoice, InvoiceView, FINANCE),
    (Refund, RefundView, FINANCE),
    (SubDelegation, SubDelegationView, DELEGATION),
    (ExpoEdition, editable(ExpoEdition, column_list=("number", "name", "start_date", "end_date", "fee_per_label",
                                                     "reuse_fee_percent", "is_current")), DELEGATION),
    (Delegation, editable(Delegation, column_list=("code", "name"), form_columns=("code", "name")), DELEGATION),
    (User, UserView, DELEGATION),
    (AuditEntry, AuditView, RECORDS),
    (OutboxMessage, read_only(OutboxMessage, column_list=("created_at", "channel", "recipient", "template",
                                                          "object_type", "object_id", "sub_delegation", "state"),
                              enum_filters=("state", "channel"), export_words=MESSAGE_WORDS,
                              column_formatters=dict(
                                  {name: _words(words) for name, words in MESSAGE_WORDS.items()},
                                  object_id=_object_link,
                                  params=_params_lines(_message_params))), RECORDS),
]


def register_views(admin, db) -> None:
    """Add every view of the registry to the Admin; `db` is the app's Flask-SQLAlchemy extension."""
    for model, view_class, category in VIEW_SPECS:
        admin.add_view(view_class(model, db, category=category))
