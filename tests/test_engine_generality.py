"""The unchanged engine runs a workflow declared over any model, here invoices scoped through their order."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from factories import make_organization
from models import (AuditEntry, Invoice, InvoiceKind, InvoiceState, Order, OrgState, PaymentMethod, Role)
from models.engine import Guard, Param, Refusal, Transition, Workflow, run
from models.errors import InvalidParameter

S = InvoiceState
# A throwaway-free declaration: nothing in the engine knows about invoices.
INVOICE_WORKFLOW = Workflow(Invoice, "invoice", InvoiceState, (
    Transition("issue", ("开具发票", "Issue invoice"), frozenset({S.REQUESTED}), S.ISSUED,
               frozenset({Role.FINANCE, Role.SUB_DELEGATION_ADMIN}), "invoice.issued",
               params=(Param("number", ("发票号码", "Invoice no."), max_length=40),
                       Param("issued_on", ("开票日期", "Issued on"), kind="date")),
               guards=(Guard("发票金额须大于 0", lambda m, p, a: m.amount > 0),),
               sets=lambda m, p, *, actor, now: {"number": p["number"], "issued_at": now}),
), name_column="title")


def invoice_for(session, world, code):
    org = make_organization(session, world.subs[code], state=OrgState.APPROVED)
    order = Order(number=f"V{code}{org.id:06d}", edition_id=world.edition.id, organization_id=org.id,
                  sub_delegation_id=world.subs[code].id, total_amount=Decimal("200"),
                  payment_method=PaymentMethod.TRANSFER)
    session.add(order)
    session.flush()
    invoice = Invoice(order_id=order.id, kind=InvoiceKind.ELECTRONIC_NORMAL, title=f"{code}发票抬头",
                      amount=Decimal("200"))
    session.add(invoice)
    session.flush()
    return invoice


def test_scope_through_the_parent_and_audit_in_the_parents_sub_delegation(session, world):
    gz, sz = invoice_for(session, world, "GZ"), invoice_for(session, world, "SZ")
    when = datetime(2025, 9, 1, 8, 30, tzinfo=timezone.utc)
    result = run(session, INVOICE_WORKFLOW, "issue", [gz.id, sz.id], actor=world.admins["GZ"],
                 params={"number": "No.0001", "issued_on": "2025-09-01"}, now=when)
    assert result.done == [gz.id]
    assert result.skipped[sz.id].code == "not_visible"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.object_type == "invoice"))
    assert (entry.object_id, entry.sub_delegation_id) == (gz.id, world.subs["GZ"].id)
    assert entry.at.replace(tzinfo=timezone.utc) == when
    assert entry.params == {"number": "No.0001", "issued_on": "2025-09-01"}
    session.refresh(gz)
    assert gz.state is S.ISSUED and gz.number == "No.0001"


def test_refusals_are_structured_and_read_as_their_message(session, world):
    invoice = invoice_for(session, world, "GZ")
    params = {"number": "No.1", "issued_on": "2025-09-01"}
    run(session, INVOICE_WORKFLOW, "issue", [invoice.id], actor=world.finance, params=params)
    again = run(session, INVOICE_WORKFLOW, "issue", [invoice.id], actor=world.finance, params=params)
    refusal = again.skipped[invoice.id]
    assert isinstance(refusal, Refusal) and refusal.code == "state"
    assert refusal == "当前状态为「已开票」，不能开具发票"
    with pytest.raises(InvalidParameter) as bad_date:
        run(session, INVOICE_WORKFLOW, "issue", [invoice.id], actor=world.finance,
            params={"number": "x", "issued_on": "九月一日"})
    assert bad_date.value.field == "issued_on"


def test_the_naming_column_is_declared_by_the_workflow(session, world):
    invoice = invoice_for(session, world, "GZ")
    name = session.scalar(select(INVOICE_WORKFLOW.name_of(Invoice)).where(Invoice.id == invoice.id))
    assert name == "GZ发票抬头"
