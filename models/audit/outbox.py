"""Verbs on the outbox: claim a due message, record its delivery or failed attempt, queue a mass e-mail.

They flush, never commit. The sender (delivery/sender.py) claims one message per transaction and marks it
sent or failed in that same transaction, so a message is delivered by one sender only:
PostgreSQL locks the claimed row (FOR UPDATE SKIP LOCKED: a second sender takes the next row instead of
waiting), SQLite's transactions begin IMMEDIATE (models/database.py), so a second sender waits for the
first to commit and then sees the message sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, Select, String, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from models.audit.tables import AuditEntry, OutboxMessage
from models.base import JsonType, utcnow
from models.delegation.tables import User
from models.enums import Channel, OutboxState, Role
from models.errors import DomainError, InvalidParameter, NotAllowed
from models.ids import id_in
from models.registration import Organization
from models.scope import visible

MASS_MAIL_TEMPLATE = "mass_mail"
MASS_MAIL_ROLES = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_ERROR = 2000
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_SECONDS = 60
LONGEST_WAIT = timedelta(hours=6)


# --- delivery ---------------------------------------------------------------------------------------------


def due(now: datetime):
    """SQL: pending messages whose next attempt is due."""
    return [OutboxMessage.state == OutboxState.PENDING.value,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now)]


def claim_next(session: Session, *, now: datetime | None = None) -> OutboxMessage | None:
    """The oldest due message, held by this transaction until it commits (None when nothing is due)."""
    query = select(OutboxMessage).where(*due(now or utcnow())).order_by(OutboxMessage.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        # Locked for this sender; concurrent senders skip it and claim the next one.
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def mark_sent(session: Session, message_id: int, *, now: datetime | None = None) -> None:
    """pending -> sent, in the claiming transaction."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                    .values(state=OutboxState.SENT.value, attempts=OutboxMessage.attempts + 1,
                            sent_at=now or utcnow(), error=None, next_attempt_at=None)
                    .execution_options(synchronize_session=False))
    session.flush()


def backoff(attempts: int, base_seconds: int = DEFAULT_RETRY_SECONDS) -> timedelta:
    """How long to wait after the attempts made so far: base, 2x, 4x, ... at most six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), LONGEST_WAIT)


def mark_failed_attempt(session: Session, message: OutboxMessage, *, error: str, now: datetime | None = None,
                        max_attempts: int = DEFAULT_MAX_ATTEMPTS, retry_seconds: int = DEFAULT_RETRY_SECONDS,
                        permanent: bool = False) -> OutboxState:
    """Record a failed attempt: pending again with a retry time, or failed for good after `max_attempts`
    (or at once when retrying cannot help, e.g. no recipient). The state it is left in."""
    now = now or utcnow()
    attempts = (message.attempts or 0) + 1
    final = permanent or attempts >= max_attempts
    state = OutboxState.FAILED if final else OutboxState.PENDING
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                    .values(state=state.value, attempts=attempts, error=(error or "发送失败")[:MAX_ERROR],
                            next_attempt_at=None if final else now + backoff(attempts, retry_seconds))
                    .execution_options(synchronize_session=False))
    session.flush()
    return state


# --- mass e-mail ------------------------------------------------------------------------------------------


@dataclass
class Recipients:
    """Who a mass e-mail would reach: organisations in scope, those with an e-mail address, the first rows."""

    organizations: int
    with_email: int
    first: list


def _check_may_mass_mail(actor: User) -> None:
    if actor is None or not actor.active or actor.role not in MASS_MAIL_ROLES:
        role = actor.role.zh if actor is not None else "未登录"
        raise NotAllowed(f"您的角色（{role}）无权群发邮件")


def _has_email():
    return func.coalesce(func.trim(Organization.contact_email), "") != ""


def _targets(actor: User, organizations: Select | list[int]):
    """The organisations asked for, limited to the actor's scope (deleted ones never)."""
    return [id_in(Organization.id, organizations), visible(actor, Organization), Organization.deleted_at.is_(None)]


def mass_mail_recipients(session: Session, organizations: Select | list[int], *, actor: User,
                         first: int = 20) -> Recipients:
    """Preview: how many organisations in the actor's scope match, how many have an e-mail, the first rows."""
    _check_may_mass_mail(actor)
    where = _targets(actor, organizations)
    counts = session.execute(select(func.count(), func.count().filter(_has_email()))
                             .select_from(Organization).where(*where)).one()
    rows = session.execute(select(Organization.id, Organization.name, Organization.contact_name,
                                  Organization.contact_email, Organization.contact_mobile)
                           .where(*where).order_by(Organization.id).limit(first)).all()
    return Recipients(organizations=counts[0], with_email=counts[1], first=list(rows))


def queue_mass_mail(session: Session, organizations: Select | list[int], *, actor: User, subject: str,
                    body: str, now: datetime | None = None) -> int:
    """One e-mail per matching organisation in scope with a contact e-mail, queued in the outbox and audited
    (organization.mass_mailed), in two INSERT ... SELECT statements whatever the count. How many were queued."""
    _check_may_mass_mail(actor)
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise InvalidParameter("邮件主题不能为空", field="subject")
    if not body:
        raise InvalidParameter("邮件正文不能为空", field="body")
    if len(subject) > MAX_SUBJECT:
        raise InvalidParameter(f"邮件主题不能超过 {MAX_SUBJECT} 字", field="subject")
    if len(body) > MAX_BODY:
        raise InvalidParameter(f"邮件正文不能超过 {MAX_BODY} 字", field="body")
    now = now or utcnow()
    where = _targets(actor, organizations) + [_has_email()]
    params = {"subject": subject, "body": body}
    # Audit first: the entries name exactly the organisations the messages go to.
    audited = session.execute(insert(AuditEntry).from_select(
        ["at", "actor_id", "action", "object_type", "object_id", "sub_delegation_id", "params"],
        select(literal(now, DateTime(timezone=True)), literal(actor.id, Integer()),
               literal("organization.mass_mailed", String()), literal("organization", String()), Organization.id,
               Organization.sub_delegation_id, literal({"subject": subject}, JsonType)).where(*where))
        .execution_options(preserve_rowcount=True)).rowcount
    queued = session.execute(insert(OutboxMessage).from_select(
        ["channel", "recipient", "template", "object_type", "object_id", "sub_delegation_id", "params", "state",
         "attempts", "created_at"],
        select(literal(Channel.EMAIL.value, String()), func.trim(Organization.contact_email),
               literal(MASS_MAIL_TEMPLATE, String()), literal("organization", String()), Organization.id,
               Organization.sub_delegation_id, literal(params, JsonType), literal(OutboxState.PENDING.value, String()),
               literal(0, Integer()), literal(now, DateTime(timezone=True))).where(*where))
        .execution_options(preserve_rowcount=True)).rowcount
    if audited != queued:
        raise DomainError(f"并发冲突：审计 {audited} 条、邮件 {queued} 封，本次未发送，请重试")
    session.flush()
    return queued
