"""The maintained counts (models/registration/tallies.py) against a GROUP BY over the rows themselves."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from models import Organization, Person
from models.registration.tallies import OrganizationTally, PersonTally


def value(v):
    return getattr(v, "value", v)


def assert_tallies_match(session) -> None:
    """Every non-zero tally equals the count of its rows, and every group of rows has its tally."""
    deleted = Organization.deleted_at.is_not(None)
    persons = {(s, value(st), value(lb), value(cp), bool(d)): (n, Decimal(str(a or 0)).quantize(Decimal("0.01")))
               for s, st, lb, cp, d, n, a in session.execute(
                   select(Person.sub_delegation_id, Person.state, Person.label, Person.copay, deleted, func.count(),
                          func.sum(Person.copay_amount))
                   .join(Organization, Organization.id == Person.organization_id)
                   .group_by(Person.sub_delegation_id, Person.state, Person.label, Person.copay, deleted))}
    tallied = {(t.sub_delegation_id, t.state, t.label, t.copay, bool(t.org_deleted)):
               (t.n, Decimal(str(t.copay_amount)).quantize(Decimal("0.01")))
               for t in session.scalars(select(PersonTally)) if t.n}
    assert tallied == persons
    orgs = {(s, value(st), bool(d)): n for s, st, d, n in session.execute(
        select(Organization.sub_delegation_id, Organization.state, deleted, func.count())
        .group_by(Organization.sub_delegation_id, Organization.state, deleted))}
    assert {(t.sub_delegation_id, t.state, bool(t.deleted)): t.n
            for t in session.scalars(select(OrganizationTally)) if t.n} == orgs
