"""What the demo history will try: which organisations and persons register when, and what their people wish for.

A plan holds intentions only (a wished label, a co-payment wish, a planned deletion). Whether a wish
comes true is the workflow's decision when the history runs: refused wishes leave the rows where they are.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from admin_app.seed.tree import BEIJING, CITIES, DELEGATION_TREE, Member
from admin_app.seed.values import Values, apportion
from models import Label, SubDelegationKind

# Share of the organisations that register in each of the WEEKS weeks, and on each weekday (Mon..Sun).
WEEK_WEIGHTS = (14, 16, 16, 14, 12, 11, 9, 8)
DAY_WEIGHTS = (18, 18, 18, 18, 16, 6, 6)
LABEL_WISHES = {Label.PROFESSIONAL: 76, Label.STAFF: 15, Label.VIP: 9}
PERSONS_PER_ORG = (1, 1, 1, 2, 2, 3, 5, 8)  # relative size of an organisation's group
REUSE_SHARE = 0.3  # of the persons of prior-edition organisations: badge-reuse applications
COPAY_WISH = 0.4  # professional visitors the sub-delegation would like to co-pay for
# What happens to a person later, whatever the workflow makes of it.
FATES = {None: 86, "fail_review": 6, "cancel": 4, "upgrade": 4}


@dataclass
class OrgPlan:
    """An organisation to register: its values, member unit, city, time, addresses; planned move or deletion."""

    values: dict
    member: Member
    city: Member
    at: datetime
    addresses: list[dict]
    move_to: Member | None = None
    delete_at: datetime | None = None
    id: int | None = None
    address_ids: dict[int, int] = field(default_factory=dict)  # position -> id


@dataclass
class PersonPlan:
    """A person to register for an organisation, and what the delegation will try for them."""

    org: OrgPlan
    values: dict
    at: datetime
    address_position: int | None
    reuse: bool
    wish: Label
    copay_wish: bool
    fate: str | None
    id: int | None = None


class Calendar:
    """The registration weeks (Mondays) up to the deadline, and moments in them in Beijing office hours."""

    def __init__(self, mondays: list[date], deadline: date, rng: random.Random):
        self.mondays, self.rng = mondays, rng
        self.end = self.at(len(mondays) - 1, (deadline - mondays[-1]).days, 22)  # the deadline's evening

    def at(self, week: int, day: int, hour: int, minute: int = 0) -> datetime:
        """Beijing wall-clock time in UTC, as every timestamp is stored."""
        local = datetime.combine(self.mondays[week] + timedelta(days=day), time(hour, minute), BEIJING)
        return local.astimezone(timezone.utc)

    def office_moment(self, week: int) -> datetime:
        """A random moment of office hours (09:00-17:30) on a weighted day of the week."""
        days = [d for d in range(7) if self.at(week, d, 18) < self.end]
        day = self.rng.choices(days, DAY_WEIGHTS[:len(days)])[0]
        return self.at(week, day, 9) + timedelta(minutes=self.rng.randrange(510))

    def later(self, start: datetime, mean_days: float) -> datetime:
        """Some days after `start` (exponentially distributed); past the last week, any moment up to its end."""
        moment = start + timedelta(days=self.rng.expovariate(1 / mean_days), minutes=self.rng.randrange(5, 120))
        if moment >= self.end:
            moment = start + (self.end - start) * self.rng.random()
        return moment


def plan_organizations(values: Values, calendar: Calendar, n: int) -> list[OrgPlan]:
    """n organisations over the member units in proportion to their recruitment targets, in time order."""
    rng = values.rng
    members = [m for m, share in zip(DELEGATION_TREE, apportion(n, [m.target for m in DELEGATION_TREE]))
               for _ in range(share)]
    rng.shuffle(members)
    weeks = rng.choices(range(len(calendar.mondays)), WEEK_WEIGHTS, k=n)
    plans = []
    for member, week in zip(members, weeks):
        org_values, city = values.organization(member)
        plans.append(OrgPlan(org_values, member, city, calendar.office_moment(week), values.addresses(city)))
    _plan_moves(plans, rng, calendar)
    _plan_deletions(plans, rng, calendar)
    return sorted(plans, key=lambda p: p.at)


def _plan_moves(plans: list[OrgPlan], rng: random.Random, calendar: Calendar) -> None:
    """About one in a hundred registered with the wrong sub-delegation: the secretariat moves it to its city's."""
    if len(plans) < len(DELEGATION_TREE):
        return
    for plan in rng.sample(plans, max(1, len(plans) // 100)):
        if plan.member.kind is SubDelegationKind.DEPARTMENT:
            plan.move_to = plan.city
        else:
            plan.move_to = rng.choice([c for c in CITIES if c != plan.member])


def _plan_deletions(plans: list[OrgPlan], rng: random.Random, calendar: Calendar) -> None:
    """About one in fifty is a duplicate or a test registration, deleted one to four weeks after it came."""
    if len(plans) < 10:
        return
    early = [p for p in plans if p.at < calendar.end - timedelta(weeks=2) and p.move_to is None]
    for plan in rng.sample(early, min(len(early), max(1, len(plans) // 50))):
        plan.delete_at = calendar.later(plan.at + timedelta(days=7), 7)


def plan_persons(values: Values, calendar: Calendar, orgs: list[OrgPlan], n: int) -> list[PersonPlan]:
    """n persons over the organisations (some register big groups), each after its organisation, in time order."""
    if not n:
        return []
    rng = values.rng
    # Organisations that came early have had time to register more of their people.
    weeks = (calendar.end - calendar.at(0, 0, 0)).total_seconds()
    weights = [rng.choice(PERSONS_PER_ORG) * max(0.2, (calendar.end - o.at).total_seconds() / weeks) for o in orgs]
    plans = []
    for org in rng.choices(orgs, weights=weights, k=n):
        person_values, position = values.person(org.values["category"], org.city, len(org.addresses))
        at = calendar.later(org.at, 6)
        if org.delete_at is not None:
            at = min(at, org.delete_at - timedelta(hours=1))  # nobody registers for a deleted organisation
        reuse = org.values["prior_edition"] and rng.random() < REUSE_SHARE
        if reuse:
            person_values.update(is_reuse=True, prior_badge_number=values.prior_badge())
        plans.append(PersonPlan(
            org, person_values, at, position, reuse,
            wish=rng.choices(list(LABEL_WISHES), weights=list(LABEL_WISHES.values()))[0],
            copay_wish=rng.random() < COPAY_WISH,
            fate=rng.choices(list(FATES), weights=list(FATES.values()))[0]))
    return sorted(plans, key=lambda p: p.at)
