"""The domain: schema, states, workflow tables, operations, scoping and audit. Nothing web here."""
import models.database  # noqa: F401  (connection pragmas)
from models.base import Base, LabeledEnum, utcnow
from models.delegation import Delegation, ExpoEdition, SubDelegation, User, user_sub_delegation
from models.enums import (Channel, CopayDecision, Gender, IdType, InvoiceKind, InvoiceState, JobState, Label,
                          OrderState, OrgCategory, OrgState, OutboxState, PaymentMethod, PersonState, Pickup,
                          RefundMethod, RefundState, RegionType, Role, SubDelegationKind)
from models.errors import (DomainError, GuardFailed, InvalidParameter, InvalidState, NotAllowed, NotFound,
                           QuotaExceeded)
from models.finance import Invoice, Order, OrderLine, Payment, Refund
from models.audit import AuditEntry, OutboxMessage
from models.jobs import BackgroundJob
from models.registration import DealIntention
from models.registration import OrgAddress, Organization, Person, QuotaAllocation
from models.scope import visible

__all__ = [name for name in dir() if not name.startswith("_")]
import models.registration.quotas  # noqa: E402,F401  (usage columns on SubDelegation and Organization)
import models.planner  # noqa: E402,F401  (dd_count_estimate, created with the schema)
import models.registration.tallies  # noqa: E402,F401  (maintained counts and their triggers)
