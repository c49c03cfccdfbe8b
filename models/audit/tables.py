"""The append-only audit log and the outbox of e-mail and SMS messages."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, Numeric, String, Text
from sqlalchemy import DDL, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JsonType, created_at_column, utcnow
from models.columns import col, enum_col, fk
from models.delegation.tables import SubDelegation, User
from models.enums import Channel, OutboxState


class AuditEntry(Base):
    """One change, written in the same transaction as the change itself; never updated."""

    __tablename__ = "audit_entry"
    __label__ = ("操作日志", "Audit log")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = col(DateTime(timezone=True), "时间", "At", default=utcnow)
    actor_id: Mapped[int | None] = fk("admin_user.id", "操作人", "Actor", nullable=True)
    action: Mapped[str] = col(String(80), "操作", "Action")
    object_type: Mapped[str] = col(String(40), "对象类型", "Object type")
    object_id: Mapped[int] = col(Integer, "对象编号", "Object id")
    # The object's sub-delegation at the time of the change: the audit log is scoped by it.
    sub_delegation_id: Mapped[int | None] = fk("sub_delegation.id", "交易分团", "Sub-delegation", nullable=True)
    from_state: Mapped[str | None] = col(String(32), "原状态", "From", nullable=True)
    to_state: Mapped[str | None] = col(String(32), "新状态", "To", nullable=True)
    params: Mapped[dict | None] = col(JsonType, "参数", "Parameters", nullable=True)

    actor: Mapped[User | None] = relationship(info={"label": ("操作人", "Actor")})
    sub_delegation: Mapped[SubDelegation | None] = relationship(info={"label": ("交易分团", "Sub-delegation")})

    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_scope_at", "sub_delegation_id", "at"),
        Index("ix_audit_entry_action", "action"),
        Index("ix_audit_entry_actor", "actor_id", "at"),
    )


class OutboxMessage(Base):
    """An e-mail or SMS that a transition wrote, delivered later by a separate sender."""

    __tablename__ = "outbox_message"
    __label__ = ("消息发件箱", "Outbox")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = enum_col(Channel, "channel", "渠道", "Channel")
    # SMS recipients are persons' mobiles: masked like the person's own column.
    recipient: Mapped[str | None] = col(String(120), "收件人", "Recipient", nullable=True, info={"sensitive": True})
    template: Mapped[str] = col(String(80), "消息模板", "Template")
    object_type: Mapped[str] = col(String(40), "对象类型", "Object type")
    object_id: Mapped[int] = col(Integer, "对象编号", "Object id")
    sub_delegation_id: Mapped[int | None] = fk("sub_delegation.id", "交易分团", "Sub-delegation", nullable=True)
    params: Mapped[dict | None] = col(JsonType, "参数", "Parameters", nullable=True)
    state: Mapped[OutboxState] = enum_col(OutboxState, "outbox_state", "发送状态", "State",
                                          default=OutboxState.PENDING)
    attempts: Mapped[int] = col(Integer, "尝试次数", "Attempts", default=0)
    error: Mapped[str | None] = col(Text, "错误", "Error", nullable=True)
    sent_at: Mapped[datetime | None] = col(DateTime(timezone=True), "发送时间", "Sent at", nullable=True)
    # After a failed attempt the sender waits (exponential backoff) before it tries again; None: due now.
    next_attempt_at: Mapped[datetime | None] = col(DateTime(timezone=True), "下次尝试", "Next attempt", nullable=True)
    created_at = created_at_column()

    sub_delegation: Mapped[SubDelegation | None] = relationship(info={"label": ("交易分团", "Sub-delegation")})

    __table_args__ = (
        Index("ix_outbox_message_pending", "state", "id"),
        Index("ix_outbox_message_scope", "sub_delegation_id"),
    )


# The audit log is append-only in the database itself: even the application's own connection cannot
# change or remove an entry. Created with the table (create_all) and by the migration 9a3d6b1e2f70.
APPEND_ONLY_MESSAGE = "操作日志只能追加，不能修改或删除"
POSTGRESQL_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
)
SQLITE_APPEND_ONLY = tuple(
    f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE"))
SQLITE_DROP_APPEND_ONLY = ("DROP TRIGGER IF EXISTS audit_entry_no_update", "DROP TRIGGER IF EXISTS audit_entry_no_delete")
POSTGRESQL_DROP_APPEND_ONLY = ("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
                               "DROP FUNCTION IF EXISTS audit_entry_append_only()")

for _statement in POSTGRESQL_APPEND_ONLY:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in SQLITE_APPEND_ONLY:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
