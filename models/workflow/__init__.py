"""Workflow tables and the engine that runs them."""
from models.workflow.engine import (ALL_OR_NOTHING, PER_ROW, Guard, Notify, Param, Result, Transition, Workflow,
                                    run)
from models.workflow.organization import ORGANIZATION_WORKFLOW
from models.workflow.person import PERSON_WORKFLOW

WORKFLOWS = {w.object_type: w for w in (ORGANIZATION_WORKFLOW, PERSON_WORKFLOW)}


def workflow_for(model) -> Workflow | None:
    """The workflow of a mapped class, if it has one."""
    return next((w for w in WORKFLOWS.values() if w.model is model), None)


__all__ = ["ALL_OR_NOTHING", "PER_ROW", "Guard", "Notify", "Param", "Result", "Transition", "Workflow", "run",
           "WORKFLOWS", "workflow_for", "ORGANIZATION_WORKFLOW", "PERSON_WORKFLOW"]
