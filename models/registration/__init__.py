"""Organisations, addresses, quota allocations, persons and deal intentions: tables, workflows, quotas, verbs."""
from models.registration.tables import MAX_ADDRESSES, DealIntention, OrgAddress, Organization, Person, QuotaAllocation

__all__ = ["MAX_ADDRESSES", "DealIntention", "OrgAddress", "Organization", "Person", "QuotaAllocation"]
