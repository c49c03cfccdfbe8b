"""Which operation creates and which edits rows of each table: forms, importers and the CLI look them up here."""
from __future__ import annotations

from collections.abc import Callable

from models.delegation import operations as delegation
from models.delegation.tables import Delegation, ExpoEdition, SubDelegation, User
from models.registration import operations as registration
from models.registration.tables import DealIntention, OrgAddress, Organization, Person, QuotaAllocation

# model -> (create(session, values, *, actor), edit(session, row, values, *, actor)); None where not allowed.
OPERATIONS: dict[type, tuple[Callable | None, Callable | None]] = {
    Organization: (registration.create_organization, registration.edit_organization),
    Person: (registration.create_person, registration.edit_person),
    OrgAddress: (registration.create_address, registration.edit_address),
    QuotaAllocation: (registration.create_quota_allocation, registration.edit_quota_allocation),
    DealIntention: (registration.create_deal_intention, registration.edit_deal_intention),
    SubDelegation: (delegation.create_sub_delegation, delegation.edit_sub_delegation),
    ExpoEdition: (delegation.create_edition, delegation.edit_edition),
    Delegation: (delegation.create_delegation, delegation.edit_delegation),
    User: (None, delegation.edit_user),  # users are created with a password: delegation.create_user
}


def operations_for(model) -> tuple[Callable | None, Callable | None]:
    """(create, edit) for a table; (None, None) for tables that only transitions and finance verbs write."""
    return OPERATIONS.get(model, (None, None))
