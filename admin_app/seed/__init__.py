"""Demo data made the way real data is made: through the domain's operations, with eight weeks of history.

    seed_demo(session, orgs=300, persons=1500, seed=0)

builds the edition and the delegation tree (from the recruitment table shipped in
models/delegation/data/), the accounts that act, and then plays the eight weeks before the registration
deadline: organisations and persons are created in their entry states and taken through the workflow
operations in weekly batches, back-dated, by the users whose job each step is (admin_app/seed/history.py).
Pure functions over a SQLAlchemy Session (no Flask): they flush, never commit.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import and_, func, inspect, or_, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from admin_app.seed.history import History
from admin_app.seed.plan import Calendar, plan_organizations, plan_persons
from admin_app.seed.tree import (DELEGATION_TREE, EDITION, WEEKS, Member, ensure_edition, load_recruitment_table,
                                 registration_deadline, registration_weeks, seed_actors, seed_delegation_tree,
                                 sub_delegation_allowances)
from admin_app.seed.values import Values, apportion, area_codes, gb11714_check, with_check_digit
from models import AuditEntry, IdType, Invoice, Order, Organization, OrgAddress, Payment, Person, Refund
from models.audit.tables import POSTGRESQL_DROP_APPEND_ONLY
from models.ids import id_in

__all__ = ["DELEGATION_TREE", "EDITION", "WEEKS", "Member", "apportion", "area_codes", "drop_everything",
           "ensure_edition", "gb11714_check", "load_recruitment_table", "seed_delegation_tree", "seed_demo",
           "sub_delegation_allowances", "with_check_digit"]


def seed_demo(session: Session, *, orgs: int = 300, persons: int = 1500, seed: int = 0,
              progress: Callable[[], None] | None = None, uploads=None) -> dict:
    """Organisations and persons with eight weeks of audited history, ending in every state and label,
    and the money they move: orders, payments and vouchers, invoices and refunds in every state.

    Deterministic for a seed. Rows that already exist (USCCs, ID numbers, used quotas) are respected,
    so it can run again on a seeded database; each run drives only the rows it creates.
    `progress()` is called after each of the WEEKS weeks. Transfer vouchers are stored under `uploads`
    (default: the root models.files was configured with, UPLOADS_DIR in the app).
    """
    if persons and not orgs:
        raise ValueError("persons need at least one organisation")
    edition = ensure_edition(session)
    subs = seed_delegation_tree(session)
    actors = seed_actors(session, subs)
    usccs = set(session.scalars(select(Organization.uscc).where(
        Organization.edition_id == edition.id, Organization.uscc.is_not(None))))
    id_numbers = {(IdType(t).value, n) for t, n in session.execute(
        select(Person.id_type, Person.id_number).where(Person.edition_id == edition.id))}
    values = Values(edition, seed, usccs, id_numbers)
    calendar = Calendar(registration_weeks(edition), registration_deadline(edition), values.rng)
    org_plans = plan_organizations(values, calendar, orgs)
    person_plans = plan_persons(values, calendar, org_plans, persons)
    history = History(session, subs, actors, calendar, seed, uploads)
    history.run(org_plans, person_plans, progress)
    session.flush()
    return summary(session, edition, history)


def summary(session: Session, edition, history: History) -> dict:
    """What the run made: counts, final states, labels, co-payment decisions, and what the domain refused."""
    org_ids, person_ids = list(history.orgs), list(history.persons)
    orgs = session.execute(select(Organization.state, Organization.deleted_at)
                           .where(id_in(Organization.id, org_ids))).all()
    persons = session.execute(select(Person.state, Person.label, Person.copay)
                              .where(id_in(Person.id, person_ids))).all()
    weeks = session.scalars(select(AuditEntry.at).where(or_(
        and_(AuditEntry.object_type == "organization", id_in(AuditEntry.object_id, org_ids)),
        and_(AuditEntry.object_type == "person", id_in(AuditEntry.object_id, person_ids))))).all()
    return {"edition": edition.number, "organizations": len(orgs),
            **money_summary(session, org_ids),
            "addresses": session.scalar(select(func.count()).select_from(OrgAddress).where(
                id_in(OrgAddress.organization_id, org_ids))),
            "persons": len(persons), "deleted_organizations": sum(o.deleted_at is not None for o in orgs),
            "org_states": dict(Counter(o.state.value for o in orgs)),
            "person_states": dict(Counter(p.state.value for p in persons)),
            "labels": dict(Counter(p.label.value for p in persons)),
            "copay": dict(Counter(p.copay.value for p in persons)),
            "iso_weeks": sorted({at.isocalendar()[:2] for at in weeks}),
            "done": dict(sorted(history.done.items())), "refused": dict(sorted(history.refused.items()))}


def money_summary(session: Session, org_ids: list[int]) -> dict:
    """States of the run's orders, payments (by method and state), invoices and refunds, counted."""
    of_run = id_in(Order.organization_id, org_ids)

    def states(model, *columns) -> dict:
        query = select(*columns, func.count()).group_by(*columns)
        if model is not Order:
            query = query.join(Order, Order.id == model.order_id)
        rows = session.execute(query.where(of_run)).all()
        return dict(sorted((":".join(str(getattr(c, "value", c)) for c in row[:-1]), row[-1]) for row in rows))

    return {"order_states": states(Order, Order.state), "payments": states(Payment, Payment.method, Payment.state),
            "invoice_states": states(Invoice, Invoice.state), "refund_states": states(Refund, Refund.state)}


def drop_everything(engine: Engine) -> None:
    """Drop every table of the database (the audit log's triggers with them), so migrations start from nothing.

    Tables are dropped, never emptied: the audit log refuses DELETE by design. Dependants go first.
    """
    names = [name for name, _ in inspect(engine).get_sorted_table_and_fkc_names() if name]
    with engine.begin() as connection:
        postgresql = connection.dialect.name == "postgresql"
        quote = connection.dialect.identifier_preparer.quote
        for name in reversed(names):
            connection.execute(text(f"DROP TABLE {quote(name)}" + (" CASCADE" if postgresql else "")))
        if postgresql:
            connection.execute(text(POSTGRESQL_DROP_APPEND_ONLY[1]))  # the function; its trigger went with the table
