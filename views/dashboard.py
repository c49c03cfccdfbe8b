"""The index page: organisations and persons by state per sub-delegation, target and completion as bars;
and the quota counter the person list shows above its rows."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from flask_admin import AdminIndexView, expose
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

from models import CopayDecision, Label, Organization, OrgState, Person, PersonState, SubDelegation, visible
from models.registration.quotas import holds_slot
from models.scope import sees_everything
from views.filters import deleted_rows
from views.common import SignedInOnly
from views.i18n import enum_label, pick

ORG_COLOURS = {"draft": "#bdc3c7", "submitted": "#f39c12", "first_approved": "#3498db", "approved": "#18bc9c",
               "returned": "#9b59b6", "rejected": "#e74c3c"}
PERSON_COLOURS = {"saved": "#bdc3c7", "pending_lock": "#95a5a6", "pending_confirmation": "#f39c12",
                  "pending_payment": "#e67e22", "pending_review": "#3498db", "approved": "#18bc9c",
                  "review_failed": "#e74c3c", "badge_produced": "#16a085", "badge_issued": "#2c3e50",
                  "cancelled": "#7f8c8d"}
REGISTERED = {s.value for s in OrgState} - {"draft", "rejected"}


def counts_by_state(session, model, actor) -> dict[int, dict[str, int]]:
    """{sub-delegation id: {state: rows}} for the rows the actor may see; deleted organisations and their
    persons are left out, as the lists leave them out."""
    rows = session.execute(select(model.sub_delegation_id, model.state, func.count())
                              .where(visible(actor, model), ~deleted_rows(model))
                              .group_by(model.sub_delegation_id, model.state))
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sub_id, state, n in rows:
        out[sub_id][getattr(state, "value", state)] += n
    return out


def dashboard_rows(session, actor) -> tuple[list[dict], dict]:
    """One row per visible sub-delegation plus the totals."""
    subs = session.scalars(select(SubDelegation).where(visible(actor, SubDelegation))
                              .order_by(SubDelegation.seq, SubDelegation.id)).all()
    orgs, persons = counts_by_state(session, Organization, actor), counts_by_state(session, Person, actor)
    rows = []
    for sub in subs:
        org_states, person_states = orgs.get(sub.id, {}), persons.get(sub.id, {})
        registered = sum(n for s, n in org_states.items() if s in REGISTERED)
        approved = org_states.get("approved", 0)
        rows.append({"sub": sub, "orgs": org_states, "persons": person_states, "registered": registered,
                     "approved": approved, "org_total": sum(org_states.values()),
                     "person_total": sum(person_states.values()), "target": sub.recruitment_target,
                     "completion": round(100 * approved / sub.recruitment_target, 1) if sub.recruitment_target else 0})
    totals = {"target": sum(r["target"] for r in rows), "registered": sum(r["registered"] for r in rows),
              "approved": sum(r["approved"] for r in rows), "orgs": defaultdict(int), "persons": defaultdict(int)}
    for r in rows:
        for s, n in r["orgs"].items():
            totals["orgs"][s] += n
        for s, n in r["persons"].items():
            totals["persons"][s] += n
    totals["org_total"] = sum(totals["orgs"].values())
    totals["person_total"] = sum(totals["persons"].values())
    totals["completion"] = round(100 * totals["approved"] / totals["target"], 1) if totals["target"] else 0
    return rows, totals


def quota_figures(actor) -> dict:
    """The actor's sub-delegations' VIP and staff badges used against their quotas, and co-payment used against
    the budget, as scalar SQL (counted as models/registration/quotas.py counts them)."""
    subs = select(SubDelegation.id).where(visible(actor, SubDelegation))
    in_scope = Person.sub_delegation_id.in_(subs)

    def scalar(statement):
        return statement.correlate(None).scalar_subquery()

    def slots(label: Label):
        return scalar(select(func.count()).select_from(Person).where(in_scope, Person.label == label.value,
                                                                     holds_slot()))

    def total(column):
        return scalar(select(func.coalesce(func.sum(column), 0)).where(visible(actor, SubDelegation)))

    copaid = select(func.coalesce(func.sum(Person.copay_amount), 0)).where(
        in_scope, Person.copay == CopayDecision.CONFIRMED.value)
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
                           person_legend=person_legend, pick=pick)
