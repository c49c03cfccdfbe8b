"""The person (参观人员) workflow: labels, co-payment, lock-submit, upgrade, background review, badges."""
from __future__ import annotations

from sqlalchemy import String, case, cast, exists, literal, null, or_, select

from models.enums import Channel, CopayDecision, Label, OrgState, PersonState, Role
from models.finance.copay import after_cancel_or_review_fail, after_upgrade
from models.registration.quotas import allocate_copay, allocate_label, allocate_lock_submit, fee_expression
from models.registration import Organization, Person
from models.engine import Guard, Notify, Param, Transition, Workflow

S = PersonState
ADMINS = frozenset({Role.SECRETARIAT, Role.SUB_DELEGATION_ADMIN})
SECRETARIAT = frozenset({Role.SECRETARIAT})
LABEL_PARAM = Param("label", ("人员标签", "Label"), kind="choice", choices=Label.labelled())
UPGRADE_PARAM = Param("label", ("升级为", "Upgrade to"), kind="choice",
                      choices=((Label.STAFF.value, Label.STAFF.zh), (Label.VIP.value, Label.VIP.zh)))


def label_rank(model):
    """The row's label as its upgrade rank, in SQL (professional 0, staff 1, VIP 2)."""
    return case(*((model.label == label.value, label.rank) for label in (Label.VIP, Label.STAFF)), else_=0)


def _rank(label_value: str) -> int:
    return Label(label_value).rank


UNDECIDED = Guard("统付已确认或已取消，选择后不可更改", lambda m, p, a: m.copay == CopayDecision.UNDECIDED.value)
ORG_NOT_REJECTED = Guard("所属单位审核不通过", lambda m, p, a: ~exists().where(
    Organization.id == m.organization_id, Organization.state == OrgState.REJECTED.value))
# Persons are registered while their organisation is reviewed, but labels, co-payment, lock-submit and
# payment wait for its approval (seeds: 交易团（分团）审核单位信息，并为团内人员标注标签). Rejected first,
# so a rejected organisation's persons are told that rather than "not yet".
ORG_DECIDED = (ORG_NOT_REJECTED,
               Guard("所属单位尚未审核通过", lambda m, p, a: exists().where(
                   Organization.id == m.organization_id, Organization.state == OrgState.APPROVED.value)))
SAME_LABEL = Guard(lambda p: f"已是{Label(p['label']).zh}", lambda m, p, a: m.label != p["label"], code="unchanged")
# Seed 002 (证件复用): the card (name, organisation, delegation, label, photo, entry days) stays as it was,
# except that professional visitors may become staff or VIP and staff VIP; 原VIP人员选择证件复用的，
# 交易团（分团）无法修改标签.
REUSED_VIP = Guard("原VIP人员选择证件复用的，无法修改标签",
                   lambda m, p, a: or_(~m.is_reuse, m.label != Label.VIP.value))
REUSED_ONLY_UP = Guard("证件复用人员的卡面信息（含人员标签）不能更改，只能升级：专业观众→工作人员/VIP，工作人员→VIP",
                       lambda m, p, a: or_(~m.is_reuse, label_rank(m) < _rank(p["label"])))
UPWARD = Guard("只能升级：专业观众→工作人员/VIP，工作人员→VIP", lambda m, p, a: label_rank(m) < _rank(p["label"]))
FREE_OR_COPAID = lambda m: or_(m.label != Label.PROFESSIONAL.value,  # noqa: E731
                               m.copay == CopayDecision.CONFIRMED.value)


def organization_contact(column):
    """The person's organisation's contact mobile or e-mail, as SQL (a correlated scalar subquery)."""
    return lambda m: select(column).where(Organization.id == m.organization_id).scalar_subquery()


def notices(template: str, when=None) -> tuple[Notify, ...]:
    """A person's notice goes to the person (SMS) and to the organisation's contact by SMS and e-mail
    (seeds: 单位会收到人员付款短信和邮件通知)."""
    return (Notify(Channel.SMS, template, lambda m: m.mobile, when=when),
            Notify(Channel.SMS, template, organization_contact(Organization.contact_mobile), when=when),
            Notify(Channel.EMAIL, template, organization_contact(Organization.contact_email), when=when))


PLEASE_PAY = notices("person_please_pay", when=lambda m, p, to_state: to_state == S.PENDING_PAYMENT.value)
BEFORE_ISSUE = frozenset(S) - {S.BADGE_ISSUED, S.CANCELLED}
UPGRADABLE = frozenset(S) - {S.CANCELLED, S.REVIEW_FAILED}


def lock_submit_target(model, params):
    """Free labels and co-paid persons go straight to review; the rest must pay."""
    return case((FREE_OR_COPAID(model), S.PENDING_REVIEW.value), else_=S.PENDING_PAYMENT.value)


def cancel_copay_target(model, params):
    """Without co-payment a professional visitor pays; free labels go to review; pending_lock waits for lock-submit."""
    return case((model.state == S.PENDING_LOCK.value, S.PENDING_LOCK.value),
                (model.label == Label.PROFESSIONAL.value, S.PENDING_PAYMENT.value),
                else_=S.PENDING_REVIEW.value)


def confirm_copay_target(model, params):
    return case((model.state == S.PENDING_LOCK.value, S.PENDING_LOCK.value), else_=S.PENDING_REVIEW.value)


def upgrade_target(model, params):
    """A produced or issued badge becomes invalid: the person goes back to approved for a new one."""
    return case((model.state.in_([S.BADGE_PRODUCED.value, S.BADGE_ISSUED.value]), S.APPROVED.value),
                (model.state == S.PENDING_PAYMENT.value, S.PENDING_REVIEW.value),
                else_=model.state)


def upgrade_sets(model, params, *, actor, now):
    return {"label": params["label"],
            "invalid_badge_number": case((model.badge_number.is_not(None), model.badge_number),
                                         else_=model.invalid_badge_number),
            "badge_number": null()}


def badge_number(model, params, *, actor, now):
    return {"badge_number": literal("E", String()) + cast(model.edition_id, String()) + literal("-", String())
            + cast(model.id, String())}


TRANSITIONS = (
    Transition("submit", ("提交", "Submit"), frozenset({S.SAVED}), S.PENDING_CONFIRMATION, ADMINS,
               "person.submitted", guards=(ORG_NOT_REJECTED,)),
    Transition("set_label", ("标注人员标签", "Set label"),
               frozenset({S.SAVED, S.PENDING_LOCK, S.PENDING_CONFIRMATION}), None, ADMINS, "person.label_set",
               params=(LABEL_PARAM,), guards=(*ORG_DECIDED, SAME_LABEL, REUSED_VIP, REUSED_ONLY_UP),
               sets=lambda m, p, *, actor, now: {"label": p["label"]}, allocate=allocate_label, after=after_upgrade),
    Transition("confirm_copay", ("确认代付", "Confirm co-payment"),
               frozenset({S.PENDING_CONFIRMATION, S.PENDING_LOCK}), confirm_copay_target, ADMINS,
               "person.copay_confirmed", targets=frozenset({S.PENDING_REVIEW, S.PENDING_LOCK}),
               guards=(*ORG_DECIDED, UNDECIDED),
               sets=lambda m, p, *, actor, now: {"copay": CopayDecision.CONFIRMED.value,
                                                 "copay_amount": fee_expression(m)},
               allocate=allocate_copay, confirmation="确认代付后不可更改，将占用本分团统付额度。确定继续吗？"),
    Transition("cancel_copay", ("取消代付", "Cancel co-payment"),
               frozenset({S.PENDING_CONFIRMATION, S.PENDING_LOCK}), cancel_copay_target, ADMINS,
               "person.copay_cancelled",
               targets=frozenset({S.PENDING_PAYMENT, S.PENDING_REVIEW, S.PENDING_LOCK}),
               guards=(*ORG_DECIDED, UNDECIDED),
               sets=lambda m, p, *, actor, now: {"copay": CopayDecision.CANCELLED.value}, notify=PLEASE_PAY,
               confirmation="取消代付后不可更改，专业观众须由单位自行支付证件费。确定继续吗？"),
    Transition("lock_submit", ("锁定提交", "Lock-submit"), frozenset({S.PENDING_LOCK}), lock_submit_target,
               ADMINS, "person.lock_submitted", targets=frozenset({S.PENDING_PAYMENT, S.PENDING_REVIEW}),
               guards=ORG_DECIDED, allocate=allocate_lock_submit, notify=PLEASE_PAY),
    Transition("upgrade_label", ("标签升级", "Upgrade label"), UPGRADABLE, upgrade_target, ADMINS,
               "person.label_upgraded", targets=UPGRADABLE - {S.BADGE_PRODUCED, S.BADGE_ISSUED},
               params=(UPGRADE_PARAM,), guards=(*ORG_DECIDED, REUSED_VIP, UPWARD),
               sets=upgrade_sets, allocate=allocate_label, after=after_upgrade,
               confirmation="升级后将制发新证件，原证件失效。确定继续吗？"),
    # No transition here takes a person out of pending_payment for money: that happens only when their
    # order is paid (models/finance/workflow.py, PERSON_PAYMENT_WORKFLOW "order_paid").
    Transition("review_pass", ("人员审核通过", "Background review passed"), frozenset({S.PENDING_REVIEW}),
               S.APPROVED, SECRETARIAT, "person.review_passed"),
    Transition("review_fail", ("人员审核不通过", "Background review failed"), frozenset({S.PENDING_REVIEW}),
               S.REVIEW_FAILED, SECRETARIAT, "person.review_failed",
               params=(Param("reason", ("审核意见", "Reason")),),
               sets=lambda m, p, *, actor, now: {"review_note": p["reason"]}, after=after_cancel_or_review_fail,
               notify=notices("person_review_failed")),
    Transition("badge_produced", ("证件制作", "Badge produced"), frozenset({S.APPROVED}), S.BADGE_PRODUCED,
               SECRETARIAT, "person.badge_produced", sets=badge_number),
    Transition("badge_issued", ("证件发放", "Badge issued"), frozenset({S.BADGE_PRODUCED}), S.BADGE_ISSUED,
               SECRETARIAT, "person.badge_issued"),
    Transition("cancel", ("注销", "Cancel"), BEFORE_ISSUE, S.CANCELLED, ADMINS, "person.cancelled",
               params=(Param("reason", ("注销原因", "Reason"), required=False),), danger=True,
               sets=lambda m, p, *, actor, now: {"review_note": p["reason"]} if p.get("reason") else {},
               after=after_cancel_or_review_fail, confirmation="注销后人员证件申办终止。确定继续吗？"),
)

PERSON_WORKFLOW = Workflow(Person, "person", PersonState, TRANSITIONS)
