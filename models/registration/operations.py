"""Verbs on organisations and persons, one function each: they run the workflow tables' transitions.

Every verb takes the session, the target ids (or a SELECT of ids), the acting user as a keyword and
the transition's parameters; it flushes and never commits (the caller owns the transaction) and
returns the engine's Result: rows done, rows skipped with a reason a person can read.
`now` back-dates the change (importers and the demo history).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, func, select, true
from sqlalchemy.orm import Session

from models.delegation.tables import ExpoEdition, SubDelegation, User
from models.editing import changes_of, create_row, edit_row, refuse_fields
from models.engine import Result, run
from models.enums import OrgCategory, OrgState, PersonState, Role
from models.errors import InvalidParameter
from models.registration.tables import DealIntention, OrgAddress, Organization, Person, QuotaAllocation
from models.validation import validate_id_document, validate_mobile, validate_uscc
from models.registration.organization_workflow import ORGANIZATION_WORKFLOW
from models.registration.person_workflow import PERSON_WORKFLOW
from models.registration.preallocation import with_pre_allocation

Ids = list[int] | Select  # the target rows: ids, or a SELECT of ids


def submit_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit draft organisations for review; recognised enterprises and public institutions are approved at once."""
    return run(session, ORGANIZATION_WORKFLOW, "submit", ids, actor=actor, params={}, now=now)


def resubmit_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit returned organisations again after their edit."""
    return run(session, ORGANIZATION_WORKFLOW, "resubmit", ids, actor=actor, params={}, now=now)


def approve_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Approve: the first review for a sub-delegation admin, the second (复审) for the secretariat."""
    return run(session, ORGANIZATION_WORKFLOW, "approve", ids, actor=actor, params={}, now=now)


def return_organizations_for_edit(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Return organisations under review to the registrant with a reason they will read."""
    return run(session, ORGANIZATION_WORKFLOW, "return_for_edit", ids, actor=actor, params={"reason": reason}, now=now)


def reject_organizations(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Reject organisations (all or nothing): they lose their registration."""
    return run(session, ORGANIZATION_WORKFLOW, "reject", ids, actor=actor, params={"reason": reason}, now=now)


def assign_delegation(session: Session, ids: Ids, *, actor: User, sub_delegation_id: int, now: datetime | None = None) -> Result:
    """Move organisations, with their persons, orders and deals, to another sub-delegation."""
    return run(session, ORGANIZATION_WORKFLOW, "assign_delegation", ids, actor=actor, params={"sub_delegation_id": sub_delegation_id}, now=now)


def delete_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Soft-delete organisations (the secretariat can restore them)."""
    return run(session, ORGANIZATION_WORKFLOW, "delete", ids, actor=actor, params={}, now=now)


def restore_organizations(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Restore soft-deleted organisations."""
    return run(session, ORGANIZATION_WORKFLOW, "restore", ids, actor=actor, params={}, now=now)


def submit_persons(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Submit saved persons for the delegation's confirmation."""
    return run(session, PERSON_WORKFLOW, "submit", ids, actor=actor, params={}, now=now)


def set_label(session: Session, ids: Ids, *, actor: User, label: str, now: datetime | None = None) -> Result:
    """Label persons VIP, staff or professional visitor within the quotas."""
    return run(session, PERSON_WORKFLOW, "set_label", ids, actor=actor, params={"label": label}, now=now)


def confirm_copay(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Confirm co-payment (decided once): the fee is taken from the sub-delegation's budget."""
    return run(session, PERSON_WORKFLOW, "confirm_copay", ids, actor=actor, params={}, now=now)


def cancel_copay(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Cancel co-payment (decided once): professional visitors then pay themselves."""
    return run(session, PERSON_WORKFLOW, "cancel_copay", ids, actor=actor, params={}, now=now)


def lock_submit(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Lock-submit badge-reuse persons: on to payment or review."""
    return run(session, PERSON_WORKFLOW, "lock_submit", ids, actor=actor, params={}, now=now)


def upgrade_label(session: Session, ids: Ids, *, actor: User, label: str, now: datetime | None = None) -> Result:
    """Upgrade persons' label (never down); a produced badge becomes invalid."""
    return run(session, PERSON_WORKFLOW, "upgrade_label", ids, actor=actor, params={"label": label}, now=now)


def pass_review(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record a passed background review."""
    return run(session, PERSON_WORKFLOW, "review_pass", ids, actor=actor, params={}, now=now)


def fail_review(session: Session, ids: Ids, *, actor: User, reason: str, now: datetime | None = None) -> Result:
    """Record a failed background review with its reason."""
    return run(session, PERSON_WORKFLOW, "review_fail", ids, actor=actor, params={"reason": reason}, now=now)


def produce_badges(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record that persons' badges were produced (a badge number is given)."""
    return run(session, PERSON_WORKFLOW, "badge_produced", ids, actor=actor, params={}, now=now)


def issue_badges(session: Session, ids: Ids, *, actor: User, now: datetime | None = None) -> Result:
    """Record that persons' badges were handed out."""
    return run(session, PERSON_WORKFLOW, "badge_issued", ids, actor=actor, params={}, now=now)


def cancel_persons(session: Session, ids: Ids, *, actor: User, reason: str | None = None, now: datetime | None = None) -> Result:
    """Cancel persons' badge applications before issue."""
    return run(session, PERSON_WORKFLOW, "cancel", ids, actor=actor, params={"reason": reason}, now=now)


# --- creates and edits ---------------------------------------------------------------------------
# Each validates the values, applies the seeds' edit rules, and leaves one audit entry (models/editing.py).

OPEN_ORG_STATES = (OrgState.DRAFT, OrgState.RETURNED)  # the registrant may still change everything
# After submission the original registration data is locked (seed 004: 单位的原始信息不可修改) except
# the contact details; delivery addresses are rows of their own and stay editable.
ORG_FIELDS_ALWAYS_OPEN = frozenset({"contact_name", "contact_mobile", "contact_email", "contact_department",
                                    "contact_position", "vip_quota", "staff_quota"})
# A submitted person cannot change (seed 002: 提交后将无法修改) except how they are reached and when
# and how they get their badge.
PERSON_FIELDS_ALWAYS_OPEN = frozenset({"mobile", "email", "entry_days", "pickup", "address_id"})
REUSE_CARD_FIELDS = ("name", "id_type", "id_number", "photo", "label")  # printed on a reused badge
# Fields only transitions write (states, decisions, badge numbers): never a form's business.
WORKFLOW_FIELDS = ("state", "label", "copay", "copay_amount", "badge_number", "invalid_badge_number",
                   "deleted_at", "submitted_at", "return_reason", "reject_reason", "review_note", "uscc_recognised")


def _locked_after_submission(obj, values: dict, actor: User, open_states, open_fields, what: str) -> None:
    """Sub-delegation admins change only the always-open fields once the row left its open states."""
    if actor.role is not Role.SUB_DELEGATION_ADMIN or obj.state in open_states:
        return
    locked = sorted(k for k in changes_of(obj, values) if k not in open_fields)
    if locked:
        raise InvalidParameter(f"{what}已提交，「{_label(type(obj), locked[0])}」不能再修改（如需更正请联系秘书处）",
                               field=locked[0])


def _label(model, key: str) -> str:
    column = model.__table__.c.get(key)
    return column.info["label"][0] if column is not None and "label" in column.info else key


def _organization_values(values: dict, org: Organization | None = None) -> dict:
    """USCC by GB 32100, a domestic organisation needs one, the contact mobile as a mobile."""
    values = dict(values)
    if values.get("uscc"):
        values["uscc"] = validate_uscc(values["uscc"])
    category = values.get("category", org.category if org else None)
    uscc = values.get("uscc", org.uscc if org else None)
    if category is not None and not uscc and not OrgCategory(category).is_overseas:
        raise InvalidParameter("境内单位须填写统一社会信用代码", field="uscc")
    if values.get("contact_mobile"):
        values["contact_mobile"] = validate_mobile(values["contact_mobile"], field="contact_mobile")
    return values


def current_edition_id(session: Session) -> int:
    """The current expo edition (the newest one marked current)."""
    edition_id = session.scalar(select(ExpoEdition.id).where(ExpoEdition.is_current.is_(True))
                                .order_by(ExpoEdition.number.desc()).limit(1))
    if edition_id is None:
        raise InvalidParameter("尚未设置当前届次，请先在「展会届次」中设置", field="edition_id")
    return edition_id


def allocated_quota(session: Session, sub_delegation_id: int, edition_id: int, field_name: str, *,
                    except_organization: int | None = None, except_uscc: str | None = None) -> int:
    """VIP or staff quota a sub-delegation has handed out: to its organisations, and pre-allocated to USCCs
    that have not registered yet (those registered count through their organisation)."""
    org_quota = getattr(Organization, field_name)
    given = session.scalar(select(func.coalesce(func.sum(org_quota), 0)).where(
        Organization.sub_delegation_id == sub_delegation_id, Organization.edition_id == edition_id,
        Organization.deleted_at.is_(None),
        Organization.id != (except_organization or 0),
        Organization.uscc.is_distinct_from(except_uscc) if except_uscc else true()))
    registered = exists().where(Organization.uscc == QuotaAllocation.uscc,
                                Organization.edition_id == QuotaAllocation.edition_id)
    reserved = session.scalar(select(func.coalesce(func.sum(getattr(QuotaAllocation, field_name)), 0)).where(
        QuotaAllocation.sub_delegation_id == sub_delegation_id, QuotaAllocation.edition_id == edition_id,
        ~registered, QuotaAllocation.uscc != (except_uscc or "")))
    return int(given) + int(reserved)


def _check_org_quotas(session: Session, sub_delegation_id: int, edition_id: int, values: dict,
                      organization_id: int | None = None, uscc: str | None = None) -> None:
    """An organisation's (or pre-allocated) VIP/staff quota fits in what its sub-delegation has left."""
    sub = session.get(SubDelegation, sub_delegation_id)
    if sub is None:
        return
    for field_name, label in (("vip_quota", "VIP"), ("staff_quota", "工作人员")):
        wanted = values.get(field_name)
        if not wanted:
            continue
        others = allocated_quota(session, sub_delegation_id, edition_id, field_name,
                                 except_organization=organization_id, except_uscc=uscc)
        if others + wanted > getattr(sub, field_name):
            left = max(getattr(sub, field_name) - others, 0)
            raise InvalidParameter(f"{label}额度超出本分团可分配数：分团共 {getattr(sub, field_name)}，"
                                   f"已分配 {others}，最多还可分配 {left}", field=field_name)


def create_organization(session: Session, values: dict, *, actor: User, now: datetime | None = None) -> Organization:
    """Register an organisation (draft) in a sub-delegation of the actor's scope."""
    refuse_fields(values, WORKFLOW_FIELDS, "该字段由审核流程设置")
    values = _organization_values(values)
    values.setdefault("edition_id", current_edition_id(session))
    values = with_pre_allocation(session, values)  # quotas imported by USCC before it registered
    _check_org_quotas(session, values["sub_delegation_id"], values["edition_id"], values,
                      uscc=values.get("uscc"))
    return create_row(session, Organization, values, actor=actor, object_type="organization", now=now)


def edit_organization(session: Session, org: Organization, values: dict, *, actor: User,
                      now: datetime | None = None) -> dict:
    """Change an organisation's data; locked after submission except contact details and quotas."""
    refuse_fields(values, WORKFLOW_FIELDS, "该字段由审核流程设置")
    refuse_fields({k: v for k, v in values.items() if v != getattr(org, k)}, ("sub_delegation_id", "edition_id"),
                  "所属交易分团请通过「指定分团」更改")
    values = _organization_values(values, org)
    _locked_after_submission(org, values, actor, OPEN_ORG_STATES, ORG_FIELDS_ALWAYS_OPEN, "单位信息")
    _check_org_quotas(session, org.sub_delegation_id, org.edition_id, values, organization_id=org.id,
                      uscc=org.uscc)
    return edit_row(session, org, values, actor=actor, object_type="organization", now=now)


def _person_values(session: Session, values: dict, person: Person | None = None) -> tuple[dict, list[str]]:
    """The ID document checked by its type, birth date from it, the mobile as a mobile; warnings to show."""
    values = dict(values)
    id_type = values.get("id_type", person.id_type if person else None)
    number = values.get("id_number", person.id_number if person else None)
    warnings: list[str] = []
    if "id_type" in values or "id_number" in values or person is None:
        document = validate_id_document(id_type, number)
        values["id_number"] = document.number
        if not values.get("birth_date") and (person is None or not person.birth_date):
            values["birth_date"] = document.birth_date
        warnings = list(document.warnings)
    if values.get("mobile"):
        values["mobile"] = validate_mobile(values["mobile"])
    return values, warnings


def _follow_organization(session: Session, values: dict) -> dict:
    """Rows of an organisation take its sub-delegation and edition (scope follows the organisation)."""
    org = session.get(Organization, values.get("organization_id")) if values.get("organization_id") else None
    if org is None:
        raise InvalidParameter("请选择单位", field="organization_id")
    return dict(values, sub_delegation_id=org.sub_delegation_id)


def create_person(session: Session, values: dict, *, actor: User, now: datetime | None = None) -> Person:
    """Register a person (saved) for an organisation of the actor's scope; `person.warnings` lists soft issues."""
    refuse_fields(values, WORKFLOW_FIELDS, "该字段由审核流程设置")
    values, warnings = _person_values(session, values)
    values = _follow_organization(session, values)
    values["edition_id"] = session.get(Organization, values["organization_id"]).edition_id
    person = create_row(session, Person, values, actor=actor, object_type="person", now=now)
    person.warnings = warnings
    return person


def edit_person(session: Session, person: Person, values: dict, *, actor: User,
                now: datetime | None = None) -> dict:
    """Change a person's data: locked once submitted (but contact, entry days and pickup); reused card data never."""
    refuse_fields(values, WORKFLOW_FIELDS, "该字段由审核流程设置")
    refuse_fields({k: v for k, v in values.items() if v != getattr(person, k)},
                  ("organization_id", "sub_delegation_id", "edition_id"), "人员所属单位不能更改")
    if person.is_reuse:
        changed = [k for k in changes_of(person, values) if k in REUSE_CARD_FIELDS]
        if changed:
            raise InvalidParameter(f"证件复用人员的卡面信息「{_label(Person, changed[0])}」不能更改",
                                   field=changed[0])
    _locked_after_submission(person, values, actor, (PersonState.SAVED,), PERSON_FIELDS_ALWAYS_OPEN, "人员信息")
    values, warnings = _person_values(session, values, person)
    person.warnings = warnings
    return edit_row(session, person, values, actor=actor, object_type="person", now=now)


def create_address(session: Session, values: dict, *, actor: User, now: datetime | None = None) -> OrgAddress:
    """Add one of an organisation's at most five delivery addresses."""
    values = dict(values)
    if values.get("mobile"):
        values["mobile"] = validate_mobile(values["mobile"])
    return create_row(session, OrgAddress, values, actor=actor, object_type="org_address", now=now)


def edit_address(session: Session, address: OrgAddress, values: dict, *, actor: User,
                 now: datetime | None = None) -> dict:
    """Change a delivery address (always open: the seeds let registrants keep them current)."""
    refuse_fields({k: v for k, v in values.items() if v != getattr(address, k)}, ("organization_id",),
                  "地址所属单位不能更改")
    values = dict(values)
    if values.get("mobile"):
        values["mobile"] = validate_mobile(values["mobile"])
    return edit_row(session, address, values, actor=actor, object_type="org_address", now=now)


def create_quota_allocation(session: Session, values: dict, *, actor: User,
                            now: datetime | None = None) -> QuotaAllocation:
    """Pre-allocate VIP/staff quota to a USCC within what the sub-delegation has left."""
    values = dict(values, uscc=validate_uscc(values.get("uscc")))
    values.setdefault("edition_id", current_edition_id(session))
    _check_org_quotas(session, values["sub_delegation_id"], values["edition_id"], values, uscc=values["uscc"])
    return create_row(session, QuotaAllocation, values, actor=actor, object_type="quota_allocation", now=now)


def edit_quota_allocation(session: Session, allocation: QuotaAllocation, values: dict, *, actor: User,
                          now: datetime | None = None) -> dict:
    """Change a pre-allocation within the sub-delegation's quota."""
    refuse_fields({k: v for k, v in values.items() if v != getattr(allocation, k)}, ("sub_delegation_id",),
                  "所属交易分团不能在此更改")
    values = dict(values)
    if "uscc" in values:
        values["uscc"] = validate_uscc(values["uscc"])
    _check_org_quotas(session, allocation.sub_delegation_id, allocation.edition_id, values,
                      uscc=values.get("uscc", allocation.uscc))
    return edit_row(session, allocation, values, actor=actor, object_type="quota_allocation", now=now)


def create_deal_intention(session: Session, values: dict, *, actor: User,
                          now: datetime | None = None) -> DealIntention:
    """Report a deal intention of an organisation of the actor's scope; the reporter is the actor."""
    values = _follow_organization(session, values)
    values["reported_by_id"] = actor.id
    return create_row(session, DealIntention, values, actor=actor, object_type="deal_intention", now=now)


def edit_deal_intention(session: Session, deal: DealIntention, values: dict, *, actor: User,
                        now: datetime | None = None) -> dict:
    """Correct a deal intention (exhibitor, amount, currency, note)."""
    refuse_fields({k: v for k, v in values.items() if v != getattr(deal, k)}, ("organization_id", "reported_by_id"),
                  "意向成交的单位和填报人不能更改")
    return edit_row(session, deal, values, actor=actor, object_type="deal_intention", now=now)
