"""Web fixtures: the Flask app on the same database as the domain fixtures, logged-in clients, a row of every model."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from admin_app import create_app
from admin_app.extensions import db
from factories import PASSWORD, make_organization, make_person
from support import app_config
from models import (AuditEntry, Channel, DealIntention, Invoice, InvoiceKind, Label, Order, OrderLine, OrgAddress,
                    OrgState, OutboxMessage, Payment, PaymentMethod, PersonState, QuotaAllocation, Refund,
                    RefundMethod)


@pytest.fixture(scope="session")
def app(database_url, engine, tmp_path_factory):
    """One app per database; the schema comes from the `engine` fixture."""
    app = create_app(app_config(database_url, tmp_path_factory.mktemp("web")))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client_for(app, session):
    """client_for(user) -> a test client logged in as that user (the world must be committed)."""

    def make(user):
        session.commit()
        client = app.test_client()
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.text[:500]
        return client

    return make


@dataclass
class Rows:
    """One row of every scoped model in each sub-delegation: rows.of["GZ"][Model] -> id."""

    of: dict


def build_rows(session, world) -> Rows:
    of = {}
    for code, sub in world.subs.items():
        org = make_organization(session, sub, state=OrgState.SUBMITTED, name=f"{code}单位甲", uscc_recognised=False)
        person = make_person(session, org, state=PersonState.PENDING_CONFIRMATION, name=f"{code}人员甲")
        address = OrgAddress(organization_id=org.id, position=1, recipient=f"{code}收件人", mobile="13900000000",
                             address=f"{code}地址")
        quota = QuotaAllocation(edition_id=world.edition.id, sub_delegation_id=sub.id, uscc=f"{code}QUOTA00000000001"[:18],
                                organization_name=f"{code}预分配单位", vip_quota=1, staff_quota=1)
        deal = DealIntention(organization_id=org.id, sub_delegation_id=sub.id, exhibitor=f"{code}展商",
                             amount=Decimal("1000"), currency="USD")
        order = Order(number=f"V{code}0001", edition_id=world.edition.id, organization_id=org.id,
                      sub_delegation_id=sub.id, total_amount=Decimal("200"), payment_method=PaymentMethod.TRANSFER)
        session.add_all([address, quota, deal, order])
        session.flush()
        line = OrderLine(order_id=order.id, person_id=person.id, label=Label.PROFESSIONAL, fee=Decimal("200"))
        payment = Payment(order_id=order.id, method=PaymentMethod.TRANSFER, amount=Decimal("200"),
                          reference=f"{code}REF", paid_at=datetime(2025, 10, 1, tzinfo=timezone.utc))
        invoice = Invoice(order_id=order.id, kind=InvoiceKind.ELECTRONIC_NORMAL, title=f"{code}单位甲",
                          amount=Decimal("200"))
        session.add_all([line, payment, invoice])
        session.flush()
        refund = Refund(order_id=order.id, order_line_id=line.id, amount=Decimal("200"), paid_amount=Decimal("200"),
                        method=RefundMethod.ORIGINAL_ROUTE, batch=f"{code}BATCH")
        audit = AuditEntry(actor_id=world.secretariat.id, action=f"test.{code}", object_type="organization",
                           object_id=org.id, sub_delegation_id=sub.id)
        message = OutboxMessage(channel=Channel.EMAIL, recipient=f"{code}@example.cn", template=f"t_{code}",
                                object_type="organization", object_id=org.id, sub_delegation_id=sub.id)
        session.add_all([refund, audit, message])
        session.flush()
        of[code] = {type(r): r.id for r in (org, person, address, quota, deal, order, line, payment, invoice, refund,
                                            audit, message)}
    session.commit()
    return Rows(of)


@pytest.fixture
def rows(session, world):
    return build_rows(session, world)


@pytest.fixture
def count_statements(app):
    """with count_statements() as n: ... ; n() is the number of SQL statements run inside."""
    from contextlib import contextmanager

    @contextmanager
    def counter():
        seen = []
        with app.app_context():
            engine = db.engine

        def listener(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", listener)

    return counter
