"""The index page: per sub-delegation, completion against the target, organisations and persons by state,
labels against the VIP/staff quotas and co-payment against the budget, as bars (the figures of the
quota-dashboard workbook, from the same query: reports/quota.py); and the quota counter the person list
shows above its rows."""
from __future__ import annotations

from decimal import Decimal

from flask_admin import AdminIndexView, expose
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

from models import CopayDecision, Label, OrgState, PersonState, SubDelegation, visible
from models.registration.quotas import RELEASED_STATES
from models.registration.tallies import PersonTally
from models.scope import sees_everything
from reports.quota import dashboard_rows, share
from views.common import SignedInOnly
from views.i18n import enum_label, pick

ORG_COLOURS = {"draft": "#bdc3c7", "submitted": "#f39c12", "first_approved": "#3498db", "approved": "#18bc9c",
               "returned": "#9b59b6", "rejected": "#e74c3c"}
PERSON_COLOURS = {"saved": "#bdc3c7", "pending_lock": "#95a5a6", "pending_confirmation": "#f39c12",
                  "pending_payment": "#e67e22", "pending_review": "#3498db", "approved": "#18bc9c",
                  "review_failed": "#e74c3c", "badge_produced": "#16a085", "badge_issued": "#2c3e50",
                  "cancelled": "#7f8c8d"}


def quota_figures(actor) -> dict:
    """The actor's sub-delegations' VIP and staff badges used against their quotas, and co-payment used against
    the budget, as scalar SQL over the maintained counts (models/registration/tallies.py), which count as
    models/registration/quotas.py does: a few rows, not a million persons, on every person list page."""
    subs = select(SubDelegation.id).where(visible(actor, SubDelegation))
    in_scope = PersonTally.sub_delegation_id.in_(subs)

    def scalar(statement):
        return statement.correlate(None).scalar_subquery()

    def slots(label: Label):
        return scalar(select(func.coalesce(func.sum(PersonTally.n), 0)).where(
            in_scope, PersonTally.label == label.value, PersonTally.state.not_in(RELEASED_STATES)))

    def total(column):
        return scalar(select(func.coalesce(func.sum(column), 0)).where(visible(actor, SubDelegation)))

    copaid = select(func.coalesce(func.sum(PersonTally.copay_amount), 0)).where(
        in_scope, PersonTally.copay == CopayDecision.CONFIRMED.value)
    return {"vip_used": slots(Label.VIP), "vip_quota": total(SubDelegation.vip_quota),
            "staff_used": slots(Label.STAFF), "staff_quota": total(SubDelegation.staff_quota),
            "copay_used": scalar(copaid), "copay_budget": total(SubDelegation.copay_budget)}


def yuan(amount) -> str:
    """¥4,000 or ¥4,000.50."""
    text = f"{Decimal(str(amount or 0)):,.2f}"
    return "¥" + (text[:-3] if text.endswith(".00") else text)


def quota_line(figures: dict, actor) -> Markup:
    """「广州交易分团　VIP 12/40 · 工作人员 30/120 · 统付额度 ¥4,000/¥10,000」; a figure all used is red."""
    def figure(label, used, allowed, shown=str):
        css = "text-danger font-weight-bold" if allowed and Decimal(str(used or 0)) >= Decimal(str(allowed)) else ""
        return (f'<span class="dd-figure {css}">{escape(label)} '
                f'<strong>{escape(shown(used or 0))}/{escape(shown(allowed or 0))}</strong></span>')

    whose = (pick(("全团", "Whole delegation")) if sees_everything(actor)
             else "、".join(s.name for s in actor.sub_delegations))
    parts = [figure("VIP", figures["vip_used"], figures["vip_quota"]),
             figure(pick(("工作人员", "Staff")), figures["staff_used"], figures["staff_quota"]),
             figure(pick(("统付额度", "Co-payment")), figures["copay_used"], figures["copay_budget"], yuan)]
    return Markup(f'<div class="dd-figures"><span class="text-muted mr-2">{escape(whose)}</span>'
                  f'{" · ".join(parts)}</div>')


class DashboardView(SignedInOnly, AdminIndexView):
    """The back office's home page; like every page it requires login."""

    @expose("/")
    def index(self):
        rows, totals = dashboard_rows(self.db.session, current_user)
        org_legend = [(s.value, enum_label(s), ORG_COLOURS[s.value]) for s in OrgState]
        person_legend = [(s.value, enum_label(s), PERSON_COLOURS[s.value]) for s in PersonState]
        return self.render("admin/dd_index.html", rows=rows, totals=totals, org_legend=org_legend,
                           person_legend=person_legend, pick=pick, share=share, yuan=yuan,
                           professional=Label.PROFESSIONAL.value)
