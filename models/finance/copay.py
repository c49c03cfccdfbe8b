"""Giving a co-payment back: a co-paid person who is cancelled or fails review frees their fee in the budget.

The budget's usage is the sum of the persons' confirmed `copay_amount` (registration/quotas.copay_used),
so giving back sets the amount to 0 and the sub-delegation has that much more to spend. The decision
itself stays "confirmed" (it is made once). Each give-back is audited (person.copay_returned) with the
amount, one INSERT ... SELECT per distinct amount (a fee and its reuse percentage: one or two).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.delegation.tables import User
from models.enums import CopayDecision, PersonState
from models.finance.common import audit_from, lock_ids
from models.ids import id_in
from models.registration.tables import Person
from models.scope import visible

GIVES_BACK = (PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value)


def give_back(session: Session, person_ids: list[int] | Select, *, actor: User, now: datetime | None = None,
              reason: str | None = None) -> list[int]:
    """Return the co-payments of these persons (cancelled or review failed, co-paid); the ids given back."""
    now = now or utcnow()
    lock_ids(session, Person, person_ids)
    returning = (id_in(Person.id, person_ids), visible(actor, Person), Person.state.in_(GIVES_BACK),
                 Person.copay == CopayDecision.CONFIRMED.value, Person.copay_amount > 0)
    found = session.execute(select(Person.id, Person.copay_amount).where(*returning).order_by(Person.id)).all()
    amounts = sorted({Decimal(str(a)).quantize(Decimal("0.01")) for _, a in found})
    for amount in amounts:
        params = {"copay_returned": f"{amount:.2f}", **({"reason": reason} if reason else {})}
        audit_from(session, select(Person.id, Person.sub_delegation_id, Person.state, Person.state)
                   .where(*returning, Person.copay_amount == amount),
                   actor=actor, action="person.copay_returned", object_type="person", params=params, now=now)
    if found:
        session.execute(update(Person).where(*returning).values(copay_amount=0, updated_at=now)
                        .execution_options(synchronize_session=False))
        for obj in list(session.identity_map.values()):  # objects already loaded would show the old amount
            if isinstance(obj, Person) and obj.id in {i for i, _ in found}:
                session.expire(obj)
    session.flush()
    return [i for i, _ in found]


def after_cancel_or_review_fail(session: Session, ids, *, params, actor, now) -> None:
    """The person workflow's `after` hook for `cancel` and `review_fail`: give the co-payments back."""
    give_back(session, ids, actor=actor, now=now, reason=params.get("reason"))
