"""Every workflow of the domain by object type: the CLI, the views and the tests look them up here."""
from models.engine import Workflow
from models.finance.workflow import (FINANCE_WORKFLOWS, INVOICE_WORKFLOW, ORDER_WORKFLOW, PAYMENT_WORKFLOW,
                                     PERSON_PAYMENT_WORKFLOW, REFUND_WORKFLOW)
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW
from models.registration.person_workflow import PERSON_WORKFLOW

WORKFLOWS = {w.object_type: w for w in (ORGANIZATION_WORKFLOW, PERSON_WORKFLOW, *FINANCE_WORKFLOWS.values())}
# Also the step a paid order makes its persons take (person.paid): fired only by the order's `pay`, so the
# CLI and the views never offer it, but the audit log reads its words here like every other transition's.
ALL_WORKFLOWS = (*WORKFLOWS.values(), PERSON_PAYMENT_WORKFLOW)


def workflow_for(model) -> Workflow | None:
    """The workflow of a mapped class, if it has one."""
    return next((w for w in WORKFLOWS.values() if w.model is model), None)


__all__ = ["ALL_WORKFLOWS", "WORKFLOWS", "workflow_for", "ORGANIZATION_WORKFLOW", "PERSON_WORKFLOW",
           "ORDER_WORKFLOW", "PAYMENT_WORKFLOW", "INVOICE_WORKFLOW", "REFUND_WORKFLOW"]
