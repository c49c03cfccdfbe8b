"""The index page: organisations and persons by state per sub-delegation, target and completion as bars."""
from __future__ import annotations

from collections import defaultdict

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from models import Organization, OrgState, Person, PersonState, SubDelegation, visible
from views.i18n import enum_label, pick

ORG_COLOURS = {"draft": "#bdc3c7", "submitted": "#f39c12", "first_approved": "#3498db", "approved": "#18bc9c",
               "returned": "#9b59b6", "rejected": "#e74c3c"}
PERSON_COLOURS = {"saved": "#bdc3c7", "pending_lock": "#95a5a6", "pending_confirmation": "#f39c12",
                  "pending_payment": "#e67e22", "pending_review": "#3498db", "approved": "#18bc9c",
                  "review_failed": "#e74c3c", "badge_produced": "#16a085", "badge_issued": "#2c3e50",
                  "cancelled": "#7f8c8d"}
REGISTERED = {s.value for s in OrgState} - {"draft", "rejected"}


def counts_by_state(session, model, actor) -> dict[int, dict[str, int]]:
    """{sub-delegation id: {state: rows}} for the rows the actor may see."""
    rows = session.execute(select(model.sub_delegation_id, model.state, func.count())
                              .where(visible(actor, model)).group_by(model.sub_delegation_id, model.state))
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


class DashboardView(AdminIndexView):
    """The back office's home page; like every page it requires login."""

    def __init__(self, db, **kwargs):
        super().__init__(**kwargs)
        self.db = db

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        rows, totals = dashboard_rows(self.db.session, current_user)
        org_legend = [(s.value, enum_label(s), ORG_COLOURS[s.value]) for s in OrgState]
        person_legend = [(s.value, enum_label(s), PERSON_COLOURS[s.value]) for s in PersonState]
        return self.render("admin/dd_index.html", rows=rows, totals=totals, org_legend=org_legend,
                           person_legend=person_legend, pick=pick)
