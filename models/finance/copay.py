"""Giving a co-payment back to the sub-delegation's budget: the one place that does it.

The budget's usage is the sum of the persons' confirmed `copay_amount` (registration/quotas.copay_used),
so giving back sets the amount to 0 and the sub-delegation has that much more to spend. The decision
itself stays "confirmed" (it is made once). Each give-back is audited (person.copay_returned) with the
amount, one INSERT ... SELECT per distinct amount (a fee and its reuse percentage: one or two).

A co-payment comes back when the person no longer needs it: upgraded to a free label (after set_label and
upgrade_label), cancelled or failing the background review (after cancel and review_fail), or through
finance's give_back for rows that were released before these hooks existed.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.delegation.tables import User
from models.enums import CopayDecision, Label, PersonState
from models.finance.common import audit_from, lock_ids
from models.ids import id_in
from models.registration.tables import Person
from models.scope import visible

GIVES_BACK = (PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value)


def return_copayments(session: Session, *conditions, actor: User, now: datetime, params: dict | None = None
                      ) -> list[int]:
    """Give back the co-payments of the co-paid persons matching `conditions`; the ids given back.

    The audit entry carries `params` (the transition's, without empty values) and the amount returned.
    """
    returning = (*conditions, Person.copay == CopayDecision.CONFIRMED.value, Person.copay_amount > 0)
    found = session.execute(select(Person.id, Person.copay_amount).where(*returning).order_by(Person.id)).all()
    if not found:
        return []
    kept = {k: str(v) for k, v in (params or {}).items() if v is not None}
    for amount in sorted({Decimal(str(a)).quantize(Decimal("0.01")) for _, a in found}):
        audit_from(session, select(Person.id, Person.sub_delegation_id, Person.state, Person.state)
                   .where(*returning, Person.copay_amount == amount),
                   actor=actor, action="person.copay_returned", object_type="person",
                   params={**kept, "copay_returned": f"{amount:.2f}"}, now=now)
    session.execute(update(Person).where(*returning).values(copay_amount=0, updated_at=now)
                    .execution_options(synchronize_session=False))
    given = {i for i, _ in found}
    for obj in list(session.identity_map.values()):  # objects already loaded would show the old amount
        if isinstance(obj, Person) and obj.id in given:
            session.expire(obj)
    return sorted(given)


def after_upgrade(session: Session, ids, *, params, actor, now) -> None:
    """The person workflow's `after` hook for set_label and upgrade_label: a free label needs no co-payment."""
    return_copayments(session, id_in(Person.id, ids), Person.label != Label.PROFESSIONAL.value,
                      actor=actor, now=now, params=params)


def after_cancel_or_review_fail(session: Session, ids, *, params, actor, now) -> None:
    """The person workflow's `after` hook for cancel and review_fail: the person will not come."""
    return_copayments(session, id_in(Person.id, ids), Person.state.in_(GIVES_BACK),
                      actor=actor, now=now, params=params)


def give_back(session: Session, person_ids: list[int] | Select, *, actor: User, now: datetime | None = None,
              reason: str | None = None) -> list[int]:
    """Return the co-payments of these persons (cancelled or review failed, co-paid, in scope); the ids given back."""
    now = now or utcnow()
    lock_ids(session, Person, person_ids)
    given = return_copayments(session, id_in(Person.id, person_ids), visible(actor, Person),
                              Person.state.in_(GIVES_BACK), actor=actor, now=now, params={"reason": reason or None})
    session.flush()
    return given
