"""The outbox delivered: once, in Chinese, to the organisation's contact; retried with backoff, then failed."""
from __future__ import annotations

import logging
import smtplib
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from admin_app import create_app
from admin_app.extensions import db
from delivery.render import render
from delivery.sender import Transports, deliver_pending
from factories import free_port, make_organization, make_person, outbox
from models import Channel, OrgState, OutboxMessage, OutboxState, PersonState
from models.audit.outbox import backoff
from models.base import utcnow
from models.engine import run
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW


def make_app(database_url, tmp_path, **extra):
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
              "REPORTS_DIR": str(tmp_path), "RATELIMIT_ENABLED": False, "MAIL_DEFAULT_SENDER": "desk@example.cn"}
    config.update(extra)
    return create_app(config)


@pytest.fixture(scope="module")
def app(database_url, engine, tmp_path_factory):
    app = make_app(database_url, tmp_path_factory.mktemp("outbox"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        app.extensions["mailman"].outbox = []
        yield app


def sent_mail(app) -> list:
    return app.extensions["mailman"].outbox


def message(session, org, *, channel=Channel.EMAIL, recipient="contact@example.cn", template="organization_approved",
            params=None, object_type="organization", object_id=None) -> OutboxMessage:
    row = OutboxMessage(channel=channel, recipient=recipient, template=template, object_type=object_type,
                        object_id=object_id or org.id, sub_delegation_id=org.sub_delegation_id, params=params)
    session.add(row)
    session.flush()
    return row


def reread(session, message_id) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, message_id)


class Recorder:
    """A transport that only records what it was asked to send (optionally failing)."""

    def __init__(self, fail: Exception | None = None):
        self.sent, self.fail, self.closed = [], fail, 0

    def send(self, channel, recipient, rendered):
        if self.fail is not None:
            raise self.fail
        self.sent.append((channel, recipient, rendered.subject))

    def close(self):
        self.closed += 1


def test_an_approval_reaches_the_contact_once_in_chinese(ctx, session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.SUBMITTED, name="广州食品进出口有限公司",
                            contact_email="buyer@gzfood.cn")
    run(session, ORGANIZATION_WORKFLOW, "approve", [org.id], actor=world.secretariat)
    session.commit()
    [queued] = outbox(session, "organization_approved")
    assert queued.recipient == "buyer@gzfood.cn" and queued.state is OutboxState.PENDING

    tally = deliver_pending(db.engine, limit=10)
    assert (tally.sent, tally.retried, tally.failed) == (1, 0, 0)
    [mail] = sent_mail(ctx)
    assert mail.to == ["buyer@gzfood.cn"] and mail.from_email == "desk@example.cn"
    assert "审核通过" in mail.subject and "广州食品进出口有限公司" in mail.body and "广州交易分团" in mail.body
    delivered = reread(session, queued.id)
    assert delivered.state is OutboxState.SENT and delivered.attempts == 1 and delivered.sent_at is not None

    assert deliver_pending(db.engine, limit=10).handled == 0  # sent is sent: never again
    assert len(sent_mail(ctx)) == 1


def test_please_pay_reaches_the_person_and_the_organisation_contact(ctx, session, world, caplog):
    from models import Label
    from models.registration import operations as ops

    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, name="佛山陶瓷有限公司",
                            contact_mobile="13700001111", contact_email="boss@fsceramics.cn")
    person = make_person(session, org, state=PersonState.PENDING_LOCK, label=Label.PROFESSIONAL, is_reuse=True,
                         name="李四", mobile="13600002222")
    ops.lock_submit(session, [person.id], actor=world.admins["GZ"])
    session.commit()
    with caplog.at_level(logging.INFO, logger="delivery.sms"):
        assert deliver_pending(db.engine).sent == 3
    texts = [r.getMessage() for r in caplog.records if r.name == "delivery.sms"]
    assert sorted(t.split(":")[0] for t in texts) == ["SMS to 136****2222", "SMS to 137****1111"]
    [mail] = sent_mail(ctx)
    assert mail.to == ["boss@fsceramics.cn"] and "证件费待支付" in mail.subject
    assert "李四" in mail.body and "佛山陶瓷有限公司" in mail.body


def test_the_sms_logging_backend_logs_the_text_with_the_number_masked(ctx, session, world, caplog):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED, name="深圳贸易公司")
    person = make_person(session, org, state=PersonState.PENDING_PAYMENT, name="张三")
    message(session, org, channel=Channel.SMS, recipient="13912345678", template="person_please_pay",
            object_type="person", object_id=person.id)
    session.commit()
    with caplog.at_level(logging.INFO, logger="delivery.sms"):
        assert deliver_pending(db.engine).sent == 1
    [record] = [r for r in caplog.records if r.name == "delivery.sms"]
    text = record.getMessage()
    assert "139****5678" in text and "13912345678" not in text
    assert "【进博会交易团】" in text and "张三" in text and "深圳贸易公司" in text and "付款" in text


def test_a_failing_server_leaves_the_message_pending_with_its_error_and_retry_time(ctx, session, world):
    org = make_organization(session, world.subs["GZ"])
    queued = message(session, org)
    session.commit()
    now = utcnow()
    recorder = Recorder(fail=smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    tally = deliver_pending(db.engine, now=lambda: now, transports=recorder)
    assert (tally.sent, tally.retried, tally.failed) == (0, 1, 0)
    row = reread(session, queued.id)
    assert row.state is OutboxState.PENDING and row.attempts == 1
    assert "无法连接邮件服务器" in row.error
    assert abs((row.next_attempt_at.replace(tzinfo=None) - now.replace(tzinfo=None)) - timedelta(seconds=60)) \
        < timedelta(seconds=1)


def test_retries_back_off_exponentially_then_fail_for_good(ctx, session, world):
    org = make_organization(session, world.subs["GZ"])
    queued = message(session, org)
    session.commit()
    recorder = Recorder(fail=ConnectionRefusedError(111, "Connection refused"))
    clock = [utcnow()]
    waits = []
    for attempt in range(1, 6):
        assert deliver_pending(db.engine, now=lambda: clock[0], transports=recorder).handled == 1
        row = reread(session, queued.id)
        assert row.attempts == attempt
        if attempt < 5:
            wait = row.next_attempt_at.replace(tzinfo=None) - clock[0].replace(tzinfo=None)
            waits.append(round(wait.total_seconds()))
            # Not due before its time: a pass now leaves it alone.
            assert deliver_pending(db.engine, now=lambda: clock[0], transports=recorder).handled == 0
            clock[0] = clock[0] + wait + timedelta(seconds=1)
    assert waits == [60, 120, 240, 480]
    assert row.state is OutboxState.FAILED and row.next_attempt_at is None
    assert "Connection refused" in row.error
    assert deliver_pending(db.engine, now=lambda: clock[0] + timedelta(days=1), transports=recorder).handled == 0
    assert backoff(20) == timedelta(hours=6)


def test_a_message_without_recipient_fails_at_once(ctx, session, world):
    org = make_organization(session, world.subs["GZ"])
    queued = message(session, org, recipient=None)
    session.commit()
    assert deliver_pending(db.engine, transports=Recorder()).failed == 1
    row = reread(session, queued.id)
    assert row.state is OutboxState.FAILED and "没有收件人" in row.error


def test_render_mass_mail_and_unknown_templates(ctx, session, world):
    org = make_organization(session, world.subs["SZ"], name="某某公司")
    mass = message(session, org, template="mass_mail", params={"subject": "展前说明会", "body": "请于周五参加。"})
    other = message(session, org, template="organization_returned", params={"reason": "营业执照不清晰"})
    session.commit()
    assert render(session, mass).subject == "展前说明会"
    assert render(session, mass).text.startswith("请于周五参加。") and "深圳交易分团" in render(session, mass).text
    returned = render(session, other)
    assert "退回修改" in returned.subject and "营业执照不清晰" in returned.text and "某某公司" in returned.text


def _race(app, n_senders, transports_for, limit):
    errors = []

    def sender(i):
        try:
            with app.app_context():
                deliver_pending(db.engine, limit=limit, transports=transports_for(i))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(n_senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sender hung"
    assert not errors, errors


@pytest.mark.postgresql_only
def test_two_senders_at_once_never_send_a_message_twice(ctx, session, world):
    """Each sender waits inside its first send until the other is sending too: without the claim (a plain
    SELECT) both would be sending the oldest message; with FOR UPDATE SKIP LOCKED the second takes the next."""
    org = make_organization(session, world.subs["GZ"])
    ids = [message(session, org, recipient=f"r{i}@example.cn").id for i in range(12)]
    session.commit()
    meet = threading.Barrier(2, timeout=10)
    sent = Counter()
    lock = threading.Lock()

    class Meeting(Recorder):
        def __init__(self):
            super().__init__()
            self.first = True

        def send(self, channel, recipient, rendered):
            if self.first:
                self.first = False
                meet.wait()  # both senders hold a claimed message here at the same time
            with lock:
                sent[recipient] += 1

    _race(ctx, 2, lambda i: Meeting(), limit=50)
    assert not meet.broken, "the two senders never sent at the same time"
    assert sent == Counter({f"r{i}@example.cn": 1 for i in range(12)})
    session.expire_all()
    assert {m.state for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))} \
        == {OutboxState.SENT}


def test_concurrent_senders_deliver_each_message_once(ctx, session, world):
    """Both backends: four senders over the same pending messages; every message sent exactly once."""
    org = make_organization(session, world.subs["GZ"])
    for i in range(20):
        message(session, org, recipient=f"m{i}@example.cn")
    session.commit()
    sent = Counter()
    lock = threading.Lock()

    class Counting(Recorder):
        def send(self, channel, recipient, rendered):
            with lock:
                sent[recipient] += 1

    _race(ctx, 4, lambda i: Counting(), limit=50)
    assert sent == Counter({f"m{i}@example.cn": 1 for i in range(20)})


# --- a real SMTP server (aiosmtpd) ------------------------------------------------------------------------


class Collect:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_mail_arrives_through_a_real_smtp_server(database_url, engine, session, world, smtp_server, tmp_path):
    controller, handler = smtp_server
    org = make_organization(session, world.subs["GZ"], name="东莞机械有限公司", contact_email="buyer@dgjx.cn")
    message(session, org, recipient="buyer@dgjx.cn", template="organization_returned", params={"reason": "采购意向不完整"})
    session.commit()
    app = make_app(database_url, tmp_path, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port,
                   MAIL_TIMEOUT=10)
    with app.app_context():
        try:
            assert deliver_pending(db.engine).sent == 1
        finally:
            db.engine.dispose()
    [(recipients, content)] = handler.messages
    assert recipients == ["buyer@dgjx.cn"]
    mail = message_from_bytes(content)
    assert "退回修改" in str(make_header(decode_header(mail["Subject"])))
    body = mail.get_payload(decode=True).decode(mail.get_content_charset())
    assert "采购意向不完整" in body and "东莞机械有限公司" in body


def test_an_smtp_server_that_is_down_leaves_the_message_pending(database_url, engine, session, world, tmp_path):
    org = make_organization(session, world.subs["GZ"])
    queued = message(session, org)
    session.commit()
    port = free_port()  # nothing listens there
    app = make_app(database_url, tmp_path, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)
    with app.app_context():
        try:
            assert deliver_pending(db.engine).retried == 1
        finally:
            db.engine.dispose()
    row = reread(session, queued.id)
    assert row.state is OutboxState.PENDING and row.attempts == 1 and row.next_attempt_at is not None
    assert f"127.0.0.1:{port}" in row.error
