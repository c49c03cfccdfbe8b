"""Outbox messages in words: a subject and a Chinese text from the template name and the parameters."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit.outbox import MASS_MAIL_TEMPLATE
from models.audit.tables import OutboxMessage
from models.delegation.tables import SubDelegation
from models.enums import Channel
from models.present import describe_params, template_action, template_label
from models.registration import Organization, Person

BRAND = "【进博会交易团】"
SIGNATURE = "交易团秘书处"
LOGIN_HINT = "请登录交易团报名系统查看。"

# template -> (subject, text). Fields: {org} organisation, {person} person, {reason} the decision's reason.
TEMPLATES: dict[str, tuple[str, str]] = {
    "organization_approved": ("单位报名审核通过", "{org}：贵单位的报名信息已审核通过，请登录系统为参会人员办理证件。"),
    "organization_returned": ("单位报名退回修改",
                              "{org}：贵单位的报名信息被退回修改，意见：{reason}。请登录系统修改后重新提交审核。"),
    "organization_rejected": ("单位报名审核不通过", "{org}：很遗憾，贵单位的报名审核不通过，原因：{reason}。"),
    "person_please_pay": ("参观人员证件费待支付",
                          "{org}：参观人员{person}的证件费待支付。为了不影响证件申办，请尽快登录系统付款，等待人员信息审核。"),
    "person_review_failed": ("参观人员信息审核不通过", "{org}：参观人员{person}的信息审核不通过，意见：{reason}。"),
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


class _Blank(dict):
    """Fields a template names but the message lacks read as 「（无）」, never a KeyError."""

    def __missing__(self, key):
        return "（无）"


def render(session: Session, message: OutboxMessage) -> Rendered:
    """The message as its recipient reads it; SMS texts carry the brand, e-mails a signature."""
    params = dict(message.params or {})
    if message.template == MASS_MAIL_TEMPLATE:
        return Rendered(params.get("subject") or "通知", _signed(params.get("body") or "", session, message))
    fields = _Blank(params, **_names(session, message))
    subject, text = TEMPLATES.get(message.template) or _generic(message)
    subject, text = subject.format_map(fields), text.format_map(fields)
    if message.channel in (Channel.SMS, Channel.SMS.value):
        return Rendered(subject, f"{BRAND}{text}")
    return Rendered(f"{BRAND}{subject}", _signed(text + "\n\n" + LOGIN_HINT, session, message))


def _generic(message: OutboxMessage) -> tuple[str, str]:
    """A template without a text of its own: its label and its parameters in words."""
    label = template_label(message.template)
    lines = describe_params(message.object_type, template_action(message.template), message.params)
    return label, "{org}：" + label + ("。" + "；".join(lines) if lines else "。")


def _names(session: Session, message: OutboxMessage) -> dict[str, str]:
    """{org, person} of the message's object (organisation or person), looked up by id."""
    if message.object_type == "person":
        row = session.execute(select(Person.name, Organization.name)
                              .join(Organization, Organization.id == Person.organization_id)
                              .where(Person.id == message.object_id)).first()
        return {"person": row[0], "org": row[1]} if row else {}
    if message.object_type == "organization":
        name = session.scalar(select(Organization.name).where(Organization.id == message.object_id))
        return {"org": name} if name else {}
    return {}


def _signed(text: str, session: Session, message: OutboxMessage) -> str:
    """An e-mail ends with who sends it: the sub-delegation, or the secretariat."""
    sender = None
    if message.sub_delegation_id is not None:
        sender = session.scalar(select(SubDelegation.name).where(SubDelegation.id == message.sub_delegation_id))
    return f"{text}\n\n{sender or SIGNATURE}"
