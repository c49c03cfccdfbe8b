"""Eight weeks of registration played through the domain: creates, then the weekly routine of each role.

Every change is an operation of models/registration/operations.py (or, for money, of
models/finance/operations.py: admin_app/seed/money.py), back-dated with `now` and acting as the user whose
job it is; every decision is one verb call per batch (per sub-delegation for its admin).
Which rows a user picks is the demo's choice; whether the change happens is the workflow's (state,
guards, quotas, budget). Refused rows simply stay where they are.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from admin_app.seed import money, settlement
from admin_app.seed.plan import Calendar, OrgPlan, PersonPlan
from admin_app.seed.tree import Actors
from models import Label, Organization, OrgState, Person, PersonState, Pickup, Role, SubDelegation
from models.editing import create_row
from models.errors import InvalidParameter
from models.ids import id_in
from models.registration import operations as ops
from models.registration.person_workflow import PERSON_WORKFLOW

O, P = OrgState, PersonState
RETURN_REASONS = ("营业执照图片不清晰，请重新上传", "采购意向填写过于简单，请补充具体产品和金额",
                  "联系人手机号码有误，请核实", "单位名称与营业执照不一致")
REJECT_REASONS = ("非本分团属地单位，且无采购需求", "单位资质文件无法核实", "重复报名（已在其他分团报名）")
REVIEW_FAILURES = ("公安背审未通过", "身份信息与公安系统登记不一致", "证件照片不符合要求")
CANCEL_REASONS = ("单位申请注销：人员行程变更", "单位申请注销：更换参会人员")
ORG_REJECTED_REASON = "所属单位审核不通过"


def sources(name: str) -> tuple[PersonState, ...]:
    """The states a person transition starts from, as the workflow declares them (read, not restated)."""
    return tuple(sorted(PERSON_WORKFLOW.for_role(name, Role.SUB_DELEGATION_ADMIN).sources))


LABEL_STATES, CANCELLABLE = sources("set_label"), sources("cancel")
UPGRADE_STATES = (P.PENDING_REVIEW, P.APPROVED, P.BADGE_PRODUCED, P.BADGE_ISSUED)  # upgrades come late
FIRST_BADGE_WEEK, FIRST_ISSUE_WEEK = 3, 4


class History:
    """One run of the eight weeks over the plan's organisations and persons (and only those)."""

    def __init__(self, session: Session, subs: dict[str, SubDelegation], actors: Actors, calendar: Calendar,
                 seed: int, uploads=None):
        self.session, self.actors, self.calendar = session, actors, calendar
        self.uploads = uploads  # where vouchers are stored (None: the root models.files was configured with)
        self.sub_ids = {code: sub.id for code, sub in subs.items()}
        self.rng = random.Random(seed * 7919 + 1)  # apart from the values' stream: plans stay as they were
        self.orgs: dict[int, OrgPlan] = {}
        self.persons: dict[int, PersonPlan] = {}
        self.labelled: set[int] = set()  # persons whose wished label was asked for
        self.moved: set[int] = set()
        self.deleted: set[int] = set()
        self.seq = {sub.id: sub.seq for sub in subs.values()}
        self.quota_refused: dict[int, set[str]] = defaultdict(set)  # sub-delegation -> quota fields it refused
        self.done, self.refused = Counter(), Counter()

    def run(self, orgs: list[OrgPlan], persons: list[PersonPlan], progress: Callable[[], None] | None = None) -> None:
        """Create each row at its time and run each week's routine, in time order; `progress()` after each week.

        The night after the deadline the expiry run closes overdue orders: the demo opens that morning.
        """
        # Newest first, so the next row due pops off the end; organisations before their persons on a tie.
        arrivals = sorted([(o.at, 0, i, o) for i, o in enumerate(orgs)]
                          + [(p.at, 1, i, p) for i, p in enumerate(persons)], key=lambda a: a[:3], reverse=True)
        for week in range(len(self.calendar.mondays)):
            for day, hour, minute, step in ROUTINE:
                moment = self.calendar.at(week, day, hour, minute)
                if moment < self.calendar.end:  # nothing after the deadline
                    self.arrive(arrivals, moment)
                    step(self, week, moment)
            if progress:
                progress()
        self.arrive(arrivals, None)
        money.expire_overdue(self)

    # -- creates -------------------------------------------------------------------------------

    def arrive(self, arrivals: list, until: datetime | None) -> None:
        """Create the planned rows due before `until` (all of them for None), oldest first."""
        while arrivals and (until is None or arrivals[-1][0] < until):
            plan = arrivals.pop()[3]
            if isinstance(plan, OrgPlan):
                self.create_organization(plan)
            else:
                self.create_person(plan)

    def create_organization(self, plan: OrgPlan) -> None:
        """Register an organisation and its addresses as its sub-delegation's admin."""
        sub_id = self.sub_ids[plan.member.code]
        actor = self.actors.admins[sub_id]
        values = dict(plan.values, sub_delegation_id=sub_id, created_at=plan.at, updated_at=plan.at)
        org = self._within_quota(values, actor, plan.at)
        plan.id = org.id
        self.orgs[org.id] = plan
        for i, address in enumerate(plan.addresses, start=1):
            row = ops.create_address(self.session, dict(address, organization_id=org.id), actor=actor,
                                     now=plan.at + timedelta(minutes=i))
            plan.address_ids[address["position"]] = row.id
            self.session.expunge(row)

    def _within_quota(self, values: dict, actor, now: datetime) -> Organization:
        """Create with the wished VIP/staff quotas; a quota the sub-delegation refused to give is asked for as 0,
        and once refused, its admin stops asking for that kind of quota."""
        sub_id = values["sub_delegation_id"]
        values = dict(values, **{f: 0 for f in self.quota_refused[sub_id]})
        while True:
            try:
                return ops.create_organization(self.session, values, actor=actor, now=now)
            except InvalidParameter as refusal:
                if refusal.field not in ("vip_quota", "staff_quota") or not values.get(refusal.field):
                    raise
                self.refused[f"create_organization.{refusal.field}"] += 1
                self.quota_refused[sub_id].add(refusal.field)
                values = dict(values, **{refusal.field: 0})

    def create_person(self, plan: PersonPlan) -> None:
        """Register a person as the admin of the organisation's sub-delegation now; reuse persons await lock-submit."""
        org = self.session.get(Organization, plan.org.id)
        actor = self.actors.admins[org.sub_delegation_id]
        address_id = plan.org.address_ids.get(plan.address_position)
        values = dict(plan.values, organization_id=org.id, address_id=address_id,
                      pickup=Pickup.EXPRESS if address_id else Pickup.DELEGATION,
                      created_at=plan.at, updated_at=plan.at)
        if plan.reuse:
            person = self._reuse_application(org, values, actor, plan.at)
        else:
            person = ops.create_person(self.session, values, actor=actor, now=plan.at)
        plan.id = person.id
        self.persons[person.id] = plan
        self.session.expunge(person)  # only the id is needed; a small identity map keeps every verb quick

    def _reuse_application(self, org: Organization, values: dict, actor, now: datetime) -> Person:
        """A badge-reuse application (证件复用) arrives pending lock with its card data (seed 002).

        No registration operation creates one (create_person makes saved persons only), so this is the
        audited generic create the operations use, with the entry state the seeds give reuse persons.
        The card's label stays professional: a prior VIP/staff label would hold a quota slot that nothing
        checks before lock-submit, so labels come from set_label, which checks the quotas.
        """
        values = dict(values, edition_id=org.edition_id, sub_delegation_id=org.sub_delegation_id,
                      state=P.PENDING_LOCK)
        return create_row(self.session, Person, values, actor=actor, object_type="person", now=now)

    # -- what the users see --------------------------------------------------------------------

    def org_rows(self, *states: OrgState) -> list:
        """This run's organisations (in these states) with their state, sub-delegation and deletion."""
        if not self.orgs:
            return []
        return self.session.execute(select(
            Organization.id, Organization.state, Organization.sub_delegation_id, Organization.deleted_at
        ).where(id_in(Organization.id, self.orgs), Organization.state.in_(states) if states else true())
         .order_by(Organization.id)).all()

    def person_rows(self, *states: PersonState) -> list:
        """This run's persons (in these states) of organisations not deleted: state, label, decision, org state."""
        if not self.persons:
            return []
        return self.session.execute(select(
            Person.id, Person.state, Person.sub_delegation_id, Person.label, Person.copay, Person.is_reuse,
            Organization.state.label("org_state")
        ).join(Organization, Organization.id == Person.organization_id).where(
            id_in(Person.id, self.persons), Person.state.in_(states) if states else true(),
            Organization.deleted_at.is_(None)).order_by(Person.id)).all()

    def some(self, rows, share: float) -> list:
        """Rows a user gets to this time: each with probability `share`, drawn in id order."""
        return [r for r in rows if self.rng.random() < share]

    # -- acting --------------------------------------------------------------------------------

    def act(self, verb: Callable, ids: list[int], actor, now: datetime, **params) -> None:
        """One verb call on a batch; what was done and what the domain refused is tallied."""
        if not ids:
            return
        result = verb(self.session, ids, actor=actor, now=now, **params)
        self.done[verb.__name__] += len(result.done)
        self.refused[verb.__name__] += len(result.skipped)

    def tally(self, verb: str, done: bool) -> None:
        """One call on one row (a gateway notification, an invoice request): done or refused."""
        (self.done if done else self.refused)[verb] += 1

    def each_admin(self, verb: Callable, rows, now: datetime, **params) -> None:
        """The verb by each sub-delegation's own admin on its rows, a few minutes apart."""
        by_sub = defaultdict(list)
        for row in rows:
            by_sub[row.sub_delegation_id].append(row.id)
        for sub_id in sorted(by_sub):
            self.act(verb, by_sub[sub_id], self.actors.admins[sub_id], now + timedelta(minutes=self.seq[sub_id]),
                     **params)

    def reason(self, reasons: tuple[str, ...]) -> str:
        return self.rng.choice(reasons)

    # -- the weekly routine --------------------------------------------------------------------

    def registrants_submit(self, week: int, now: datetime) -> None:
        """Registrants (through their sub-delegation) submit drafts, resubmit returns and submit their persons."""
        orgs = [o for o in self.org_rows(O.DRAFT, O.RETURNED) if o.deleted_at is None]
        self.each_admin(ops.submit_organizations, self.some([o for o in orgs if o.state is O.DRAFT], 0.75), now)
        self.each_admin(ops.resubmit_organizations, self.some([o for o in orgs if o.state is O.RETURNED], 0.6), now)
        persons = [p for p in self.person_rows(P.SAVED) if p.org_state is not O.REJECTED]
        self.each_admin(ops.submit_persons, self.some(persons, 0.9), now + timedelta(minutes=30))

    def first_review(self, week: int, now: datetime) -> None:
        """Each sub-delegation's admin reviews its submitted organisations: approve, return or reject."""
        submitted = [o for o in self.org_rows(O.SUBMITTED) if o.deleted_at is None]
        self.review(submitted, self.each_admin, now, approve=0.5, ret=0.08, reject=0.02)

    def second_review(self, week: int, now: datetime) -> None:
        """The secretariat reviews what the sub-delegations approved."""
        passed = [o for o in self.org_rows(O.FIRST_APPROVED) if o.deleted_at is None]
        self.review(passed, self.as_secretariat, now, approve=0.6, ret=0.03, reject=0.01)

    def as_secretariat(self, verb: Callable, rows, now: datetime, **params) -> None:
        """The verb by the secretariat on all the rows at once."""
        self.act(verb, [r.id for r in rows], self.actors.secretariat, now, **params)

    def review(self, rows, acting: Callable, now: datetime, *, approve: float, ret: float, reject: float) -> None:
        """Split the rows by a draw each into approved, returned, rejected and not yet looked at."""
        decided = defaultdict(list)
        for row in rows:
            draw = self.rng.random()
            outcome = ("approve" if draw < approve else "return" if draw < approve + ret
                       else "reject" if draw < approve + ret + reject else None)
            if outcome:
                decided[outcome].append(row)
        acting(ops.approve_organizations, decided["approve"], now)
        acting(ops.return_organizations_for_edit, decided["return"], now + timedelta(minutes=40),
               reason=self.reason(RETURN_REASONS))
        acting(ops.reject_organizations, decided["reject"], now + timedelta(minutes=50),
               reason=self.reason(REJECT_REASONS))

    def moves_and_deletions(self, week: int, now: datetime) -> None:
        """The secretariat moves organisations registered with the wrong sub-delegation and deletes duplicates."""
        targets = defaultdict(list)
        for org_id, plan in self.orgs.items():
            if plan.move_to and org_id not in self.moved and plan.at < now - timedelta(days=2):
                self.moved.add(org_id)
                targets[self.sub_ids[plan.move_to.code]].append(org_id)
        for target, ids in sorted(targets.items()):
            self.act(ops.assign_delegation, ids, self.actors.secretariat, now, sub_delegation_id=target)
        due = [i for i, plan in self.orgs.items() if plan.delete_at and plan.delete_at < now and i not in self.deleted]
        self.deleted.update(due)
        self.act(ops.delete_organizations, sorted(due), self.actors.secretariat, now + timedelta(minutes=20))

    def labels(self, week: int, now: datetime) -> None:
        """Sub-delegation admins ask for the VIP/staff labels wished for, once each, and a few upgrades."""
        wished = defaultdict(list)
        for p in self.person_rows(*LABEL_STATES):
            if p.id in self.labelled or p.org_state is not O.APPROVED:
                continue
            self.labelled.add(p.id)
            wish = self.persons[p.id].wish
            if wish is not Label.PROFESSIONAL:
                wished[wish].append(p)
        for label in (Label.VIP, Label.STAFF):
            self.each_admin(ops.set_label, wished[label], now, label=label.value)
        upgrading = [p for p in self.person_rows(*UPGRADE_STATES)
                     if self.persons[p.id].fate == "upgrade" and p.label is not Label.VIP]
        upgrades = defaultdict(list)
        for p in self.some(upgrading, 0.5):
            upgrades[Label.VIP if p.label is Label.STAFF else Label.STAFF].append(p)
        for label in (Label.VIP, Label.STAFF):
            self.each_admin(ops.upgrade_label, upgrades[label], now + timedelta(minutes=45), label=label.value)

    def copay_decisions(self, week: int, now: datetime) -> None:
        """Admins decide co-payment for submitted persons and lock-submit badge-reuse persons."""
        ready = [p for p in self.person_rows(P.PENDING_CONFIRMATION, P.PENDING_LOCK) if p.org_state is O.APPROVED
                 and (p.id in self.labelled or self.persons[p.id].wish is Label.PROFESSIONAL)]
        confirmed, cancelled = [], []
        for p in self.some([p for p in ready if p.state is P.PENDING_CONFIRMATION], 0.8):
            wants = p.label is Label.PROFESSIONAL and self.persons[p.id].copay_wish
            (confirmed if wants else cancelled).append(p)
        locking = self.some([p for p in ready if p.state is P.PENDING_LOCK], 0.55)
        for p in locking:
            if p.label is Label.PROFESSIONAL and self.persons[p.id].copay_wish:
                confirmed.append(p)
            elif self.rng.random() < 0.5:
                cancelled.append(p)  # the rest lock-submit undecided, and pay the reuse fee themselves
        self.each_admin(ops.confirm_copay, confirmed, now)
        self.each_admin(ops.cancel_copay, cancelled, now + timedelta(minutes=30))
        self.each_admin(ops.lock_submit, locking, now + timedelta(minutes=60))

    def cancellations(self, week: int, now: datetime) -> None:
        """Admins cancel persons who will not come; the secretariat those of rejected organisations."""
        persons = self.person_rows(*CANCELLABLE)
        leaving = [p for p in persons if self.persons[p.id].fate == "cancel"
                   and self.persons[p.id].at < now - timedelta(days=5)]
        self.each_admin(ops.cancel_persons, self.some(leaving, 0.3), now, reason=self.reason(CANCEL_REASONS))
        rejected = [p for p in persons if p.org_state is O.REJECTED]
        self.as_secretariat(ops.cancel_persons, self.some(rejected, 0.5), now + timedelta(minutes=40),
                            reason=ORG_REJECTED_REASON)

    def background_review(self, week: int, now: datetime) -> None:
        """The secretariat records the background reviews that came back."""
        reviewed = self.some(self.person_rows(P.PENDING_REVIEW), 0.5)
        failing = [p for p in reviewed if self.persons[p.id].fate == "fail_review"]
        passing = [p for p in reviewed if self.persons[p.id].fate != "fail_review"]
        self.as_secretariat(ops.pass_review, passing, now)
        self.as_secretariat(ops.fail_review, failing, now + timedelta(minutes=20), reason=self.reason(REVIEW_FAILURES))

    def badges(self, week: int, now: datetime) -> None:
        """From the fourth week the secretariat has badges produced, and from the fifth hands them out."""
        persons = self.person_rows(P.APPROVED, P.BADGE_PRODUCED)
        if week >= FIRST_ISSUE_WEEK:
            self.as_secretariat(ops.issue_badges, self.some([p for p in persons if p.state is P.BADGE_PRODUCED], 0.4),
                                now)
        if week >= FIRST_BADGE_WEEK:
            self.as_secretariat(ops.produce_badges, self.some([p for p in persons if p.state is P.APPROVED], 0.45),
                                now + timedelta(minutes=30))


# (weekday 0 = Monday, hour, minute, step): who does what when, every week. Money: admin_app/seed/money.py
# (orders, payments, vouchers) and settlement.py (invoices, refunds).
ROUTINE = (
    (0, 11, 0, money.organisations_pay),
    (0, 17, 0, History.registrants_submit),
    (1, 10, 0, History.first_review),
    (1, 14, 0, money.finance_reviews_vouchers),
    (1, 15, 0, History.labels),
    (1, 16, 0, settlement.finance_settles),
    (2, 10, 0, History.second_review),
    (2, 11, 0, settlement.organisations_ask),
    (2, 15, 0, History.moves_and_deletions),
    (3, 14, 0, History.copay_decisions),
    (3, 16, 0, money.put_on_orders),
    (3, 17, 0, History.cancellations),
    (4, 10, 0, History.background_review),
    (4, 15, 0, History.badges),
)
