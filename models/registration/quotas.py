"""VIP/staff quotas and the co-payment budget: usage queries and the allocation steps of transitions.

Allocation locks the sub-delegation rows on PostgreSQL (after the persons, which the engine has locked
already), then counts what is used, so two admins acting at the same moment are serialised and a quota
is never exceeded. Locks are always taken persons first, then sub-delegations, in id order.
Co-payments given back to the budget (free label, cancelled, review failed): models/finance/copay.py.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, column_property

from models.delegation import SubDelegation
from models.enums import CopayDecision, Label, PersonState
from models.ids import id_in
from models.registration import Organization, Person
from models.scope import sees_everything
from models.engine import Allocation
from models.finance.fees import fee_expression  # noqa: F401  (the one fee function; registration's steps use it)

# Persons in these states no longer hold a VIP/staff badge slot.
RELEASED_STATES = (PersonState.CANCELLED.value, PersonState.REVIEW_FAILED.value)
QUOTA_FIELD = {Label.VIP: "vip_quota", Label.STAFF: "staff_quota"}


def lock(session: Session, model, ids) -> list:
    """Lock rows of `model` in id order (PostgreSQL) and return them."""
    query = select(model).where(id_in(model.id, ids)).order_by(model.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.scalars(query))


def holds_slot():
    """Persons that occupy a quota slot."""
    return Person.state.not_in(RELEASED_STATES)


def label_usage(session: Session, group_column, group_ids, label: Label, *criteria) -> dict[int, int]:
    """{group id: persons with this label holding a slot and matching `criteria`}, by sub-delegation or organisation."""
    rows = session.execute(select(group_column, func.count()).where(
        id_in(group_column, group_ids), Person.label == label.value, holds_slot(), *criteria).group_by(group_column))
    return defaultdict(int, {g: n for g, n in rows})


def copay_used(session: Session, sub_ids) -> dict[int, Decimal]:
    """{sub-delegation id: co-payment confirmed so far}."""
    rows = session.execute(select(Person.sub_delegation_id, func.coalesce(func.sum(Person.copay_amount), 0)).where(
        id_in(Person.sub_delegation_id, sub_ids), Person.copay == CopayDecision.CONFIRMED.value
    ).group_by(Person.sub_delegation_id))
    return defaultdict(Decimal, {s: Decimal(str(v)) for s, v in rows})


def _persons(session: Session, ids) -> list:
    """The persons an allocation decides on, in id order, with what their quotas are counted by."""
    return session.execute(select(Person.id, Person.sub_delegation_id, Person.organization_id, Person.label)
                           .where(id_in(Person.id, ids)).order_by(Person.id)).all()


def _quota_owners(session: Session, rows) -> tuple[dict, dict]:
    """{id: sub-delegation} locked (PostgreSQL, after the persons) and {id: organisation} read, of these persons."""
    subs = {s.id: s for s in lock(session, SubDelegation, {r.sub_delegation_id for r in rows})}
    # Organisations are read, not locked: an organisation's persons all belong to its sub-delegation, whose
    # lock above already serialises their allocations. Locking them here, after the persons, deadlocked
    # with assign_delegation, which locks the organisation first and its persons next.
    orgs = {o.id: o for o in session.scalars(
        select(Organization).where(id_in(Organization.id, {r.organization_id for r in rows})))}
    return subs, orgs


class Slots:
    """The VIP or staff slots of one label in use per sub-delegation and organisation, against their quotas."""

    def __init__(self, session: Session, label: Label, subs: dict, orgs: dict, *criteria):
        self.label, self.field, self.subs, self.orgs = label, QUOTA_FIELD[label], subs, orgs
        self.sub_used = label_usage(session, Person.sub_delegation_id, subs, label, *criteria)
        self.org_used = label_usage(session, Person.organization_id, orgs, label, *criteria)

    def take(self, row) -> str | None:
        """Take a slot for this person in both quotas; or why there is none (and nothing is taken)."""
        sub, org = row.sub_delegation_id, row.organization_id
        sub_quota, org_quota = getattr(self.subs[sub], self.field), getattr(self.orgs[org], self.field)
        if self.sub_used[sub] >= sub_quota:
            return f"交易分团{self.label.zh}额度已用完（{self.sub_used[sub]}/{sub_quota}）"
        if self.org_used[org] >= org_quota:
            return f"单位{self.label.zh}额度已用完（{self.org_used[org]}/{org_quota}）"
        self.sub_used[sub] += 1
        self.org_used[org] += 1
        return None


def _allocate(rows, refusal_of) -> Allocation:
    """Grant the rows in order, refusing those for which `refusal_of(row)` gives a reason."""
    allocation = Allocation(granted=[])
    for row in rows:
        refusal = refusal_of(row)
        if refusal:
            allocation.refused[row.id] = refusal
        else:
            allocation.granted.append(row.id)
    return allocation


def allocate_label(session: Session, ids, *, params, actor) -> Allocation:
    """Grant the new label to persons in id order while both the sub-delegation's and the organisation's quota hold."""
    label = Label(params["label"])
    if label not in QUOTA_FIELD:
        return Allocation(granted=list(ids))
    rows = _persons(session, ids)
    slots = Slots(session, label, *_quota_owners(session, rows))
    # A person who has the label already is not granted it again: that change would change nothing
    # (the transitions' guards skip such rows before they get here).
    return _allocate(rows, lambda row: f"已是{label.zh}" if row.label == label else slots.take(row))


def allocate_lock_submit(session: Session, ids, *, params, actor) -> Allocation:
    """Lock-submit reused VIP/staff badges in id order while both quotas hold, like labelling a new one.

    Persons still waiting in pending_lock are not counted here: their slot is taken by this step, so a
    reused VIP nobody lock-submits blocks nobody else's lock-submit. (Labelling a new person counts them,
    since they may still claim their slot.) Professional visitors need no slot.
    """
    rows = _persons(session, ids)
    limited = [r for r in rows if Label(r.label) in QUOTA_FIELD]
    if not limited:
        return Allocation(granted=[r.id for r in rows])
    subs, orgs = _quota_owners(session, limited)
    submitted = Person.state != PersonState.PENDING_LOCK.value
    slots = {label: Slots(session, label, subs, orgs, submitted) for label in QUOTA_FIELD}

    def refusal(row) -> str | None:
        label = Label(row.label)
        return slots[label].take(row) if label in slots else None

    return _allocate(rows, refusal)


def allocate_copay(session: Session, ids, *, params, actor) -> Allocation:
    """Confirm co-payment for persons in id order while the sub-delegation's budget holds."""
    rows = session.execute(select(Person.id, Person.sub_delegation_id, fee_expression().label("fee"))
                           .where(id_in(Person.id, ids)).order_by(Person.id)).all()
    budgets = {s.id: s.copay_budget for s in lock(session, SubDelegation, {r.sub_delegation_id for r in rows})}
    used = copay_used(session, budgets)
    allocation = Allocation(granted=[])
    for row in rows:
        fee = Decimal(str(row.fee or 0))
        budget = Decimal(str(budgets[row.sub_delegation_id]))
        if used[row.sub_delegation_id] + fee > budget:
            allocation.refused[row.id] = (f"统付额度不足（已用 {used[row.sub_delegation_id]:.2f} / "
                                          f"{budget:.2f} 元，本人证件费 {fee:.2f} 元）")
        else:
            used[row.sub_delegation_id] += fee
            allocation.granted.append(row.id)
    return allocation


def sees_figures_of(actor, sub_id: int) -> bool:
    """True when the actor's scope includes this sub-delegation, so a refusal may quote its used/allocated figures."""
    return actor is not None and (sees_everything(actor) or sub_id in actor.sub_delegation_ids)


def allocate_moved_labels(session: Session, org_ids, *, params, actor) -> Allocation:
    """Move organisations to another sub-delegation only while its VIP/staff quotas hold their persons
    and its co-payment budget holds their confirmed co-payments (which move with them)."""
    target_id = params["sub_delegation_id"]
    if session.get_bind().dialect.name == "postgresql":
        # Hold the moving persons still before counting them: a label or co-payment committed meanwhile
        # is counted rather than moved in unchecked. Persons before the sub-delegation, like every
        # person transition (persons, then sub-delegations), so the two never wait for each other in a cycle.
        session.execute(select(Person.id).where(id_in(Person.organization_id, org_ids))
                        .order_by(Person.id).with_for_update())
    target = lock(session, SubDelegation, [target_id])
    if not target:
        return Allocation(granted=[], refused={i: "目标交易分团不存在" for i in org_ids})
    target = target[0]
    counts = session.execute(select(Person.organization_id, Person.label, func.count()).where(
        id_in(Person.organization_id, org_ids), holds_slot(),
        Person.label.in_([Label.VIP.value, Label.STAFF.value])).group_by(Person.organization_id, Person.label))
    moving = defaultdict(lambda: defaultdict(int))
    for org_id, label, n in counts:
        moving[org_id][Label(label)] += n
    copaid = session.execute(select(Person.organization_id, func.coalesce(func.sum(Person.copay_amount), 0)).where(
        id_in(Person.organization_id, org_ids), Person.copay == CopayDecision.CONFIRMED.value
    ).group_by(Person.organization_id))
    moving_copay = defaultdict(Decimal, {o: Decimal(str(v)) for o, v in copaid})
    used = {label: label_usage(session, Person.sub_delegation_id, [target_id], label)[target_id]
            for label in QUOTA_FIELD}
    copay = copay_used(session, [target_id])[target_id]
    budget = Decimal(str(target.copay_budget))
    figures = sees_figures_of(actor, target_id)
    allocation = Allocation(granted=[])
    for org_id in sorted(org_ids):
        over = [label for label, field in QUOTA_FIELD.items()
                if used[label] + moving[org_id][label] > getattr(target, field)]
        # The target's used/allocated figures only for an actor whose scope includes it; the
        # organisation's own figures are in the actor's scope either way.
        reasons = [f"目标分团{label.zh}额度不足（"
                   + (f"已用 {used[label]}/{getattr(target, QUOTA_FIELD[label])}，" if figures else "")
                   + f"本单位 {moving[org_id][label]} 人）" for label in over]
        if moving_copay[org_id] and copay + moving_copay[org_id] > budget:
            reasons.append("目标分团统付额度不足（"
                           + (f"已用 {copay:.2f} / {budget:.2f} 元，" if figures else "")
                           + f"本单位已统付 {moving_copay[org_id]:.2f} 元）")
        if reasons:
            allocation.refused[org_id] = "、".join(reasons)
            continue
        for label in QUOTA_FIELD:
            used[label] += moving[org_id][label]
        copay += moving_copay[org_id]
        allocation.granted.append(org_id)
    return allocation


def sub_delegation_usage(session: Session, sub_ids) -> dict[int, dict]:
    """Used against allocated, per sub-delegation: VIP, staff and co-payment."""
    subs = {s.id: s for s in session.scalars(select(SubDelegation).where(id_in(SubDelegation.id, sub_ids)))}
    vip = label_usage(session, Person.sub_delegation_id, subs, Label.VIP)
    staff = label_usage(session, Person.sub_delegation_id, subs, Label.STAFF)
    copay = copay_used(session, subs)
    return {sid: {"vip": (vip[sid], s.vip_quota), "staff": (staff[sid], s.staff_quota),
                  "copay": (copay[sid], s.copay_budget)} for sid, s in subs.items()}


def organization_usage(session: Session, org_ids) -> dict[int, dict]:
    """Used against allocated VIP and staff badges, per organisation."""
    orgs = {o.id: o for o in session.scalars(select(Organization).where(id_in(Organization.id, org_ids)))}
    vip = label_usage(session, Person.organization_id, orgs, Label.VIP)
    staff = label_usage(session, Person.organization_id, orgs, Label.STAFF)
    return {oid: {"vip": (vip[oid], o.vip_quota), "staff": (staff[oid], o.staff_quota)} for oid, o in orgs.items()}


def _count_label(group_column, owner_id, label: Label):
    return (select(func.count()).where(group_column == owner_id, Person.label == label.value, holds_slot())
            .correlate_except(Person).scalar_subquery())


# Usage columns for list pages: deferred, and undeferred by the views that show "used / allocated",
# so a page of rows gets its usage in the same statement.
SubDelegation.vip_used = column_property(_count_label(Person.sub_delegation_id, SubDelegation.id, Label.VIP),
                                         deferred=True)
SubDelegation.staff_used = column_property(_count_label(Person.sub_delegation_id, SubDelegation.id, Label.STAFF),
                                           deferred=True)
SubDelegation.copay_used = column_property(
    select(func.coalesce(func.sum(Person.copay_amount), 0)).where(
        Person.sub_delegation_id == SubDelegation.id, Person.copay == CopayDecision.CONFIRMED.value
    ).correlate_except(Person).scalar_subquery(), deferred=True)
Organization.vip_used = column_property(_count_label(Person.organization_id, Organization.id, Label.VIP),
                                        deferred=True)
Organization.staff_used = column_property(_count_label(Person.organization_id, Organization.id, Label.STAFF),
                                          deferred=True)
