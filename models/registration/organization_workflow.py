"""The organisation (单位) workflow: review in two levels, return for edit, reject, reassign, soft delete."""
from __future__ import annotations

from sqlalchemy import and_, case, exists, literal, null, update, String

from models.delegation import SubDelegation
from models.enums import Channel, OrgCategory, OrgState, Role
from models.finance import Order
from models.ids import id_in
from models.registration.quotas import allocate_moved_labels
from models.registration import DealIntention
from models.registration import Organization, Person, QuotaAllocation
from models.engine import ALL_OR_NOTHING, Guard, Notify, Param, Transition, Workflow

S = OrgState
ADMINS = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
SECRETARIAT = frozenset({Role.SECRETARIAT})
EVERY_STATE = frozenset(OrgState)
REVIEWABLE = frozenset({S.SUBMITTED, S.FIRST_APPROVED})
AUTO_APPROVED_CATEGORIES = (OrgCategory.ENTERPRISE.value, OrgCategory.PUBLIC_INSTITUTION.value)

REASON = Param("reason", ("意见", "Reason"))
NOT_DELETED = Guard("单位已删除", lambda m, p, a: m.deleted_at.is_(None))
# For delete and restore, and for assigning an organisation where it is, the row is already as the
# transition would leave it: skipped as unchanged, not refused.
NOT_DELETED_YET = Guard("单位已删除", lambda m, p, a: m.deleted_at.is_(None), code="unchanged")
IS_DELETED = Guard("单位未被删除", lambda m, p, a: m.deleted_at.is_not(None), code="unchanged")
ELSEWHERE = Guard("已属于目标交易分团", lambda m, p, a: m.sub_delegation_id != p["sub_delegation_id"], code="unchanged")
EMAIL_CONTACT = lambda m: m.contact_email  # noqa: E731


def submission_target(model, params):
    """Enterprises and public institutions with a recognised USCC are approved on submission."""
    return case((and_(model.category.in_(AUTO_APPROVED_CATEGORIES), model.uscc_recognised), S.APPROVED.value),
                else_=S.SUBMITTED.value)


def submission_sets(model, params, *, actor, now):
    return {"submitted_at": now, "return_reason": null()}


def move_dependants(session, org_ids, *, params, actor, now):
    """Persons, orders, deal intentions and quota pre-allocations follow their organisation."""
    target = params["sub_delegation_id"]
    for model in (Person, Order, DealIntention):
        session.execute(update(model).where(id_in(model.organization_id, org_ids))
                        .values(sub_delegation_id=target).execution_options(synchronize_session=False))
    # The pre-allocation of the same edition only: other editions' rows for this USCC are history.
    same_organization = exists().where(id_in(Organization.id, org_ids), Organization.uscc == QuotaAllocation.uscc,
                                       Organization.edition_id == QuotaAllocation.edition_id)
    session.execute(update(QuotaAllocation).where(same_organization)
                    .values(sub_delegation_id=target).execution_options(synchronize_session=False))


def target_exists(model, params, actor):
    return exists().where(SubDelegation.id == params["sub_delegation_id"])


TRANSITIONS = (
    Transition("submit", ("提交审核", "Submit"), frozenset({S.DRAFT}), submission_target, ADMINS,
               "organization.submitted", targets=frozenset({S.SUBMITTED, S.APPROVED}),
               guards=(NOT_DELETED,), sets=submission_sets),
    Transition("resubmit", ("重新提交", "Resubmit"), frozenset({S.RETURNED}), submission_target, ADMINS,
               "organization.resubmitted", targets=frozenset({S.SUBMITTED, S.APPROVED}),
               guards=(NOT_DELETED,), sets=submission_sets),
    Transition("approve", ("审核通过（初审）", "Approve (first review)"), frozenset({S.SUBMITTED}),
               S.FIRST_APPROVED, frozenset({Role.SUB_DELEGATION_ADMIN}), "organization.first_approved",
               guards=(NOT_DELETED,)),
    Transition("approve", ("审核通过（复审）", "Approve (second review)"), REVIEWABLE, S.APPROVED, SECRETARIAT,
               "organization.approved", guards=(NOT_DELETED,),
               notify=Notify(Channel.EMAIL, "organization_approved", EMAIL_CONTACT)),
    Transition("return_for_edit", ("退回修改", "Return for edit"), REVIEWABLE, S.RETURNED, ADMINS,
               "organization.returned_for_edit", params=(Param("reason", ("退回修改意见", "Reason")),),
               guards=(NOT_DELETED,),
               sets=lambda m, p, *, actor, now: {"return_reason": p["reason"]},
               notify=Notify(Channel.EMAIL, "organization_returned", EMAIL_CONTACT)),
    Transition("reject", ("审核不通过", "Reject"), frozenset({S.SUBMITTED, S.FIRST_APPROVED, S.RETURNED}),
               S.REJECTED, ADMINS, "organization.rejected",
               params=(Param("reason", ("审核不通过原因", "Reason")),), guards=(NOT_DELETED,),
               sets=lambda m, p, *, actor, now: {"reject_reason": p["reason"]},
               notify=Notify(Channel.EMAIL, "organization_rejected", EMAIL_CONTACT),
               policy=ALL_OR_NOTHING, danger=True,
               confirmation="审核不通过后，报名单位将失去报名资格。确定继续吗？"),
    Transition("assign_delegation", ("指定分团", "Assign sub-delegation"), EVERY_STATE, None, ADMINS,
               "organization.delegation_assigned",
               params=(Param("sub_delegation_id", ("目标交易分团", "Target sub-delegation"), kind="sub_delegation"),),
               guards=(NOT_DELETED, Guard("目标交易分团不存在", target_exists), ELSEWHERE),
               sets=lambda m, p, *, actor, now: {"sub_delegation_id": p["sub_delegation_id"]},
               allocate=allocate_moved_labels, after=move_dependants,
               confirmation="单位及其人员、订单将移交目标分团，本分团将不再能看到它们。确定继续吗？"),
    Transition("delete", ("删除", "Delete"), EVERY_STATE, None, ADMINS, "organization.deleted",
               guards=(NOT_DELETED_YET,), sets=lambda m, p, *, actor, now: {"deleted_at": now}, danger=True,
               confirmation="删除后单位及其人员将不再显示（秘书处可恢复）。确定删除吗？"),
    Transition("restore", ("恢复", "Restore"), EVERY_STATE, None, SECRETARIAT, "organization.restored",
               guards=(IS_DELETED,), sets=lambda m, p, *, actor, now: {"deleted_at": null()}),
)

ORGANIZATION_WORKFLOW = Workflow(Organization, "organization", OrgState, TRANSITIONS)
