"""The declarative workflow engine: transitions are data, one engine applies them set-based.

A transition names its source states, target state (a constant or a per-row SQL expression),
the roles that may fire it, its parameters, guards (SQL predicates with a readable reason),
extra column values, an optional allocation step (quotas, budgets), the audit action and the
outbox message. `run()` checks role, parameters, scope, state and guards, and writes the audit
entries, the outbox messages and the change in a constant number of statements.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, Select, String, case, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models.base import JsonType, LabeledEnum, utcnow
from models.delegation import User
from models.enums import Channel, Role
from models.errors import DomainError, InvalidParameter, NotAllowed
from models.ids import id_in
from models.audit import AuditEntry, OutboxMessage
from models.params import Param, clean_params
from models.scope import sub_delegation_expression, visible

NOT_VISIBLE = "不存在或不在您的权限范围内"
SUPERSEDED = "已被他人处理，请刷新后重试"
WHOLE_BATCH = "同批次中有不能执行的记录，本批次全部未执行"
PER_ROW = "per_row"
ALL_OR_NOTHING = "all_or_nothing"


@dataclass
class Allocation:
    """What an allocation step (quotas, budgets) decided: rows granted, rows refused with a reason."""

    granted: list[int]
    refused: dict[int, str] = field(default_factory=dict)


class Refusal(str):
    """Why a row was not changed: the readable Chinese message, with a short code and the field it concerns.

    It is the message itself (a str), so it prints and compares as one; importers group by `code`.
    Codes: not_visible, state, guard, unchanged, quota, batch, superseded.
    """

    def __new__(cls, message: str, code: str = "guard", field: str | None = None):
        refusal = str.__new__(cls, message)
        refusal.code, refusal.field = code, field
        return refusal

    def __reduce__(self):
        return (Refusal, (str(self), self.code, self.field))


@dataclass(frozen=True)
class Guard:
    """A rule every row must pass; `predicate(model, params, actor)` is true for rows that may go on.

    `reason` is the message, or a function of the parameters giving it (「已是VIP」). A guard with code
    "unchanged" says the row is already as the transition would leave it: skipped, no audit entry.
    """

    reason: str | Callable[[dict], str]
    predicate: Callable[..., ColumnElement[bool]]
    code: str = "guard"

    def refusal(self, params: dict) -> Refusal:
        message = self.reason(params) if callable(self.reason) else self.reason
        return Refusal(message, self.code)


@dataclass(frozen=True)
class Notify:
    """An outbox message written for every changed row (optionally only where `when` holds)."""

    channel: Channel
    template: str
    recipient: Callable[[type], ColumnElement]
    when: Callable[..., ColumnElement[bool]] | None = None


@dataclass(frozen=True)
class Transition:
    """One declared transition; several may share a name with disjoint roles (e.g. two review levels)."""

    name: str
    label: tuple[str, str]
    sources: frozenset
    target: Any  # a state enum member, None (state unchanged) or callable(model, params) -> SQL expression
    roles: frozenset
    audit_action: str
    targets: frozenset = frozenset()  # possible outcomes when target is an expression
    params: tuple[Param, ...] = ()
    guards: tuple[Guard, ...] = ()
    sets: Callable[..., dict] | None = None
    allocate: Callable[..., Allocation] | None = None
    after: Callable[..., None] | None = None
    notify: Notify | tuple[Notify, ...] | None = None  # several: e.g. an SMS and an e-mail to the contact
    policy: str = PER_ROW
    confirmation: str | None = None
    danger: bool = False

    @property
    def label_zh(self) -> str:
        return self.label[0]

    def notices(self) -> tuple[Notify, ...]:
        """The outbox messages each changed row writes (none, one or several)."""
        if self.notify is None:
            return ()
        return self.notify if isinstance(self.notify, tuple) else (self.notify,)

    def outcomes(self) -> frozenset:
        """Every state a row can be in after this transition."""
        if self.target is None:
            return frozenset(self.sources)
        if callable(self.target) and not isinstance(self.target, LabeledEnum):
            return self.targets
        return frozenset({self.target})

    def target_expression(self, model, params: dict):
        """SQL value of the new state, per row."""
        if self.target is None:
            return model.state
        if isinstance(self.target, LabeledEnum):
            return literal(self.target.value, String())
        return self.target(model, params)

    def clean_params(self, raw: dict | None) -> dict:
        """Validated parameters; raises InvalidParameter with the field's Chinese label."""
        return clean_params(self.params, raw)


@dataclass(frozen=True)
class Workflow:
    """The transitions of one model; looked up by name and the actor's role."""

    model: type
    object_type: str
    states: type[LabeledEnum]
    transitions: tuple[Transition, ...]
    # The row's sub-delegation as SQL (written to the audit log and the outbox); default: the model's own
    # column, or its parent's for rows scoped through a parent (invoices through their order).
    sub_delegation: Callable[[type], ColumnElement] | None = None
    name_column: str = "name"  # what names a row in reports and result pages (orders: "number")

    def sub_delegation_of(self, model) -> ColumnElement:
        return self.sub_delegation(model) if self.sub_delegation else sub_delegation_expression(model)

    def name_of(self, model) -> ColumnElement:
        return getattr(model, self.name_column)

    def names(self) -> list[str]:
        """Transition names in declaration order, each once."""
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.setdefault(t.name, None)
        return list(seen)

    def variants(self, name: str) -> list[Transition]:
        found = [t for t in self.transitions if t.name == name]
        if not found:
            raise InvalidParameter(f"未知操作：{name}")
        return found

    def for_role(self, name: str, role: Role) -> Transition | None:
        """The variant of `name` this role may fire, or None."""
        return next((t for t in self.variants(name) if role in t.roles), None)

    def allowed_names(self, role: Role) -> list[str]:
        """Names of the transitions this role may fire: drives dropdowns, buttons and permissions."""
        return [n for n in self.names() if self.for_role(n, role)]

    def label(self, name: str) -> tuple[str, str]:
        return self.variants(name)[0].label


@dataclass
class Result:
    """Outcome per row: done, or skipped with a reason a person can read."""

    transition: Transition
    done: list[int] = field(default_factory=list)
    skipped: dict[int, Refusal] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.skipped


def _state_label(states: type[LabeledEnum], value) -> str:
    try:
        return states(value).zh
    except ValueError:
        return str(value)


def run(session: Session, workflow: Workflow, name: str, target: Iterable[int] | Select, *, actor: User,
        params: dict | None = None, now: datetime | None = None) -> Result:
    """Fire transition `name` on the target rows (ids, or a SELECT of ids) as `actor`; flush, never commit.

    `now` is the time written to the rows and the audit log (importers and the demo history back-date it).
    """
    transition = workflow.for_role(name, actor.role)
    if transition is None or not actor.active:
        raise NotAllowed(f"您的角色（{actor.role.zh}）无权执行「{workflow.label(name)[0]}」")
    params = transition.clean_params(params)
    model = workflow.model
    result = Result(transition)
    requested = None if isinstance(target, Select) else sorted({int(i) for i in target})
    if requested is not None and not requested:
        return result

    rows = _load_rows(session, workflow, transition, target, actor, params)
    if requested is not None:
        for missing in sorted(set(requested) - {r.id for r in rows}):
            result.skipped[missing] = Refusal(NOT_VISIBLE, "not_visible")
    eligible = []
    for row in rows:
        reason = _refusal(workflow, transition, row, params)
        if reason:
            result.skipped[row.id] = reason
        else:
            eligible.append(row.id)

    if eligible and transition.allocate:
        allocation = transition.allocate(session, eligible, params=params, actor=actor)
        result.skipped.update({i: Refusal(r, "quota") for i, r in allocation.refused.items()})
        eligible = allocation.granted

    if transition.policy == ALL_OR_NOTHING and result.skipped:
        for row_id in eligible:
            result.skipped[row_id] = Refusal(WHOLE_BATCH, "batch")
        result.skipped = dict(sorted(result.skipped.items()))
        return result

    if eligible:
        result.done = _apply(session, workflow, transition, eligible, actor, params, now or utcnow())
        _report_superseded(result, transition, eligible)
    result.skipped = dict(sorted(result.skipped.items()))
    return result


def _report_superseded(result: Result, transition: Transition, eligible: Sequence[int]) -> None:
    """Rows that passed the check but not the re-check while writing: skipped, or the whole batch refused."""
    superseded = sorted(set(eligible) - set(result.done))
    if superseded and transition.policy == ALL_OR_NOTHING:
        # Part of the batch is written already; raising makes the caller roll all of it back.
        raise DomainError(f"{len(superseded)} 条记录{SUPERSEDED}（本批次全部未执行）")
    for row_id in superseded:
        result.skipped[row_id] = Refusal(SUPERSEDED, "superseded")


def _load_rows(session, workflow, transition, target, actor, params):
    """Rows in scope among the target, with their state and each guard's verdict; locked on PostgreSQL.

    SQLite has no row locks: its transactions begin IMMEDIATE (models/database.py), so this read already
    holds the database's single write lock until the caller commits.
    """
    model = workflow.model
    guard_columns = [case((g.predicate(model, params, actor), literal(1)), else_=literal(0)).label(f"guard_{i}")
                     for i, g in enumerate(transition.guards)]
    query = (select(model.id, model.state, *guard_columns)
             .where(id_in(model.id, target), visible(actor, model))
             .order_by(model.id))
    if session.get_bind().dialect.name == "postgresql":
        # Rows are locked in id order, so concurrent batches wait instead of deciding twice.
        query = query.with_for_update(of=model)
    return session.execute(query).all()


def _refusal(workflow: Workflow, transition: Transition, row, params: dict) -> Refusal | None:
    """Why this row cannot take the transition, or None."""
    state = row.state.value if isinstance(row.state, LabeledEnum) else row.state
    if state not in {s.value for s in transition.sources}:
        return Refusal(f"当前状态为「{_state_label(workflow.states, state)}」，不能{transition.label_zh}", "state")
    for i, guard in enumerate(transition.guards):
        if not getattr(row, f"guard_{i}"):
            return guard.refusal(params)
    return None


def _apply(session, workflow, transition, ids: Sequence[int], actor: User, params: dict, now: datetime) -> list[int]:
    """Audit entries, outbox messages and the change: three statements whatever the row count; the ids changed.

    Each statement decides again (scope, source state, guards) in its WHERE clause, so a row someone else
    changed since the check is neither audited nor changed twice, even where the rows were not locked.
    """
    model = workflow.model
    still = _still_eligible(model, transition, ids, actor, params)
    to_state = transition.target_expression(model, params)
    audit_params = {k: _jsonable(v) for k, v in params.items() if v is not None} or None
    # Audit first, while the rows still carry their source state.
    audited = _insert_audit(session, workflow, transition, still, to_state, actor, audit_params, now)
    for notice in transition.notices():
        _insert_outbox(session, workflow, notice, still, to_state, params, audit_params, now)
    values = {"state": to_state}
    if "updated_at" in model.__table__.c:
        values["updated_at"] = now
    if transition.sets:
        values.update(transition.sets(model, params, actor=actor, now=now))
    changed = sorted(session.scalars(update(model).where(*still).values(values).returning(model.id)
                                     .execution_options(synchronize_session=False)))
    if audited != len(changed):
        # Never a change without its audit entry, nor an entry without its change: the caller rolls back.
        raise DomainError(f"并发冲突：审计记录 {audited} 条，修改 {len(changed)} 条，本次操作未执行，请重试")
    if changed and transition.after:
        transition.after(session, changed, params=params, actor=actor, now=now)
    _expire_loaded(session, model, changed)
    session.flush()
    return changed


def _insert_audit(session, workflow, transition, still, to_state, actor, audit_params, now) -> int:
    """One INSERT ... SELECT of the audit entries of the rows that still qualify; how many were written."""
    model = workflow.model
    rows = select(literal(now, DateTime(timezone=True)), literal(actor.id, Integer()),
                  literal(transition.audit_action, String()), literal(workflow.object_type, String()),
                  model.id, workflow.sub_delegation_of(model), model.state, to_state,
                  literal(audit_params, JsonType)).where(*still)
    statement = insert(AuditEntry).from_select(
        ["at", "actor_id", "action", "object_type", "object_id", "sub_delegation_id", "from_state", "to_state",
         "params"], rows)
    # SQLAlchemy keeps an INSERT's rowcount only when asked (psycopg's would read -1).
    return session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _insert_outbox(session, workflow, notify: Notify, still, to_state, params, audit_params, now) -> None:
    """One INSERT ... SELECT of the outbox messages of the rows that still qualify (and match `notify.when`)."""
    model = workflow.model
    condition = still + ([notify.when(model, params, to_state)] if notify.when else [])
    rows = select(literal(notify.channel.value, String()), notify.recipient(model),
                  literal(notify.template, String()), literal(workflow.object_type, String()), model.id,
                  workflow.sub_delegation_of(model), literal(audit_params, JsonType), literal("pending", String()),
                  literal(0, Integer()), literal(now, DateTime(timezone=True))).where(*condition)
    session.execute(insert(OutboxMessage).from_select(
        ["channel", "recipient", "template", "object_type", "object_id", "sub_delegation_id", "params",
         "state", "attempts", "created_at"], rows))


def _still_eligible(model, transition, ids: Sequence[int], actor: User, params: dict) -> list:
    """WHERE clauses that decide again, in the writing statement itself: the ids, scope, source state, guards."""
    return [id_in(model.id, ids), visible(actor, model),
            model.state.in_(sorted(s.value for s in transition.sources)),
            *(guard.predicate(model, params, actor) for guard in transition.guards)]


def _jsonable(value):
    """Parameter values as the audit log's JSON stores them (amounts and dates as text)."""
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _expire_loaded(session: Session, model, ids: Sequence[int]) -> None:
    """Objects already in the session would show the old state: expire them (no rows are loaded)."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in wanted:
            session.expire(obj)


def transition_matrix(workflow: Workflow) -> dict[str, dict[str, list[str]]]:
    """{transition: {role: [source states]}} for documentation and permission screens."""
    out: dict[str, dict[str, list[str]]] = {}
    for t in workflow.transitions:
        for role in t.roles:
            out.setdefault(t.name, {})[role.value] = sorted(s.value for s in t.sources)
    return out

