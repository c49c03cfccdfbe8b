"""The sender: claim a due message, deliver it, mark it sent or failed, commit; one message per transaction.

Never the same message twice: the claim and the mark are one transaction, and the claim holds the row
(PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE) until it commits. A sender that dies between
sending and committing leaves that one message pending: it may go out again, which is the price of an
SMTP server that cannot take part in our transaction.
"""
from __future__ import annotations

import logging
import smtplib
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from delivery.mail import Mailer
from delivery.render import Rendered, render
from delivery.sms import SmsGateway, gateway
from models.audit.outbox import (DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_SECONDS, claim_next, due, mark_failed_attempt,
                                 mark_sent)
from models.audit.tables import OutboxMessage
from models.base import utcnow
from models.enums import Channel, OutboxState

log = logging.getLogger(__name__)
NO_RECIPIENT = {Channel.EMAIL: "没有收件人：单位联系人未填写邮箱", Channel.SMS: "没有收件人：未填写手机号"}


@dataclass
class Tally:
    """What a pass did: messages sent, pending again for a retry, failed for good."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed

    def words(self) -> str:
        return f"已发送 {self.sent} 条，待重试 {self.retried} 条，发送失败 {self.failed} 条"


class Transports:
    """E-mail and SMS as the app's settings configure them."""

    def __init__(self, mailer: Mailer | None = None, sms: SmsGateway | None = None):
        self.mailer = mailer or Mailer()
        self.sms = sms or gateway(current_app.config)

    def send(self, channel: Channel, recipient: str, message: Rendered) -> None:
        if channel is Channel.EMAIL:
            self.mailer.send(recipient, message.subject, message.text)
        elif channel is Channel.SMS:
            self.sms.send(recipient, message.text)
        else:
            raise ValueError(f"未知的发送渠道：{channel}")

    def close(self) -> None:
        self.mailer.close()


def due_count(engine, *, now: datetime | None = None) -> int:
    """How many messages are waiting to be sent now."""
    with Session(engine, execution_options={"sqlite_begin": "DEFERRED"}) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(*due(now or utcnow())))


def deliver_pending(engine, *, limit: int = 100, now: Callable[[], datetime] = utcnow,
                    transports: Transports | None = None,
                    progress: Callable[[Tally], None] | None = None) -> Tally:
    """Deliver at most `limit` due messages, oldest first; stops early when none is due."""
    transports = transports or Transports()
    settings = _settings()
    tally = Tally()
    try:
        for _ in range(max(0, limit)):
            with Session(engine) as session:
                message = claim_next(session, now=now())
                if message is None:
                    break
                state = deliver_one(session, message, transports, now=now(), **settings)
                session.commit()
            _count(tally, state)
            if progress:
                progress(tally)
    finally:
        transports.close()
    return tally


def deliver_one(session: Session, message: OutboxMessage, transports: Transports, *, now: datetime,
                max_attempts: int, retry_seconds: int) -> OutboxState:
    """Send one claimed message and record the outcome in the claiming transaction; the state it ends in."""
    channel = Channel(message.channel)
    recipient = (message.recipient or "").strip()
    if not recipient:
        return mark_failed_attempt(session, message, error=NO_RECIPIENT[channel], now=now, permanent=True)
    try:
        transports.send(channel, recipient, render(session, message))
    except Exception as exc:  # every failure is recorded on the message; the next pass retries it
        log.warning("outbox message %s (%s) not delivered: %s", message.id, channel.value, exc)
        return mark_failed_attempt(session, message, error=failure_words(exc), now=now, max_attempts=max_attempts,
                                   retry_seconds=retry_seconds)
    mark_sent(session, message.id, now=now)
    return OutboxState.SENT


def failure_words(exc: Exception) -> str:
    """Why a delivery failed, in words, with the server's own answer when it gave one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"邮件服务器拒收收件人：{_recipients_refused(exc)}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "邮件服务器登录失败（请检查 MAIL_USERNAME / MAIL_PASSWORD）"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"邮件服务器拒绝发送：{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError, socket.gaierror, smtplib.SMTPServerDisconnected)):
        config = current_app.config
        return (f"无法连接邮件服务器 {config.get('MAIL_SERVER', 'localhost')}:{config.get('MAIL_PORT', 25)}"
                f"（{type(exc).__name__}：{exc}）")
    return f"发送失败（{type(exc).__name__}）：{exc}"


def _recipients_refused(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "；".join(f"{who} {code} {_text(text)}" for who, (code, text) in exc.recipients.items())


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _settings() -> dict:
    config = current_app.config
    return {"max_attempts": int(config.get("OUTBOX_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS),
            "retry_seconds": int(config.get("OUTBOX_RETRY_SECONDS") or DEFAULT_RETRY_SECONDS)}


def _count(tally: Tally, state: OutboxState) -> None:
    if state is OutboxState.SENT:
        tally.sent += 1
    elif state is OutboxState.FAILED:
        tally.failed += 1
    else:
        tally.retried += 1
