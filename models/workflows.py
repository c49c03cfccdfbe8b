"""Every workflow of the domain by object type: the CLI, the views and the tests look them up here."""
from models.engine import Workflow
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW
from models.registration.person_workflow import PERSON_WORKFLOW

WORKFLOWS = {w.object_type: w for w in (ORGANIZATION_WORKFLOW, PERSON_WORKFLOW)}


def workflow_for(model) -> Workflow | None:
    """The workflow of a mapped class, if it has one."""
    return next((w for w in WORKFLOWS.values() if w.model is model), None)


__all__ = ["WORKFLOWS", "workflow_for", "ORGANIZATION_WORKFLOW", "PERSON_WORKFLOW"]
