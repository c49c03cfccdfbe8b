"""How the domain is shown to a person, without a request: masking of personal data, readable
sentences for the database constraints that refused a change, labels, times and audit entries in words.

Plain functions of (column or error, role, lang); views, CLI, importers and reports call them.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, CheckConstraint, DateTime, Enum, Index, UniqueConstraint, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.util import identity_key

from models.base import Base
from models.enums import Role

# --------------------------------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------------------------------

# Roles that see personal data masked (leadership reads the back office, it never needs the numbers).
MASKED_ROLES = frozenset({Role.VIEWER})
MASK = "mask"  # 440***********1234
YEAR = "year"  # 1990 instead of 1990-05-17: a full birth date narrows a masked ID number to a few candidates


def masking(column, role: Role | None) -> str | None:
    """How `role` sees `column`: MASK, YEAR or None (in clear). The one rule for personal data.

    A column opts in with info={"sensitive": True} (masked) or info={"sensitive": "year"} (year only).
    Whoever sees a column masked may not search, filter or sort by it either: each would confirm a guess.
    """
    kind = (getattr(column, "info", None) or {}).get("sensitive")
    if not kind or (role is not None and Role(role) not in MASKED_ROLES):
        return None
    return YEAR if kind == YEAR else MASK


def masked_columns(model, role: Role | None) -> dict[str, str]:
    """{column key: MASK | YEAR} for the columns of `model` that `role` sees masked."""
    return {c.key: kind for c in model.__table__.columns if (kind := masking(c, role))}


def secret_columns(model) -> frozenset[str]:
    """Columns no page, list, export or form ever shows (password hashes): info={"secret": True}."""
    return frozenset(c.key for c in model.__table__.columns if c.info.get("secret"))


def mask(value) -> str:
    """440***********1234, 138****8000: the first three and last four characters of an ID, mobile or account
    (11 characters or more, as such numbers are shown in China); of a shorter permit or passport number
    (8 to 10) only the first and the last two, so that at most half of it shows; 7 or fewer: nothing."""
    if value is None or value == "":
        return ""
    value = str(value)
    if len(value) >= 11:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if len(value) >= 8:
        return value[:1] + "*" * (len(value) - 3) + value[-2:]
    return "*" * len(value)


def shown(value, kind: str | None):
    """A value as a role with this masking kind sees it (unchanged when kind is None)."""
    if kind is None or value is None:
        return value
    if kind == YEAR:
        return str(value.year) if isinstance(value, date) else ""
    return mask(value)


# --------------------------------------------------------------------------------------------------
# Database errors as sentences
# --------------------------------------------------------------------------------------------------

# Every CHECK and UNIQUE constraint of models/ (names after the naming convention in models/base.py).
# The enum CHECKs (ck_<table>_<enum type>) are named by enum_messages() from the column's label.
CONSTRAINT_MESSAGES: dict[str, tuple[str, str]] = {
    "uq_admin_user_username": ("用户名已存在", "This username is already taken"),
    "uq_delegation_code": ("交易团代码已存在", "This delegation code already exists"),
    "uq_expo_edition_number": ("该届次已存在", "This edition already exists"),
    "ck_expo_edition_fee_non_negative": ("证件费不能为负数", "The badge fee cannot be negative"),
    "ck_expo_edition_dates_ordered": ("闭幕日期不能早于开幕日期", "The closing date cannot be before the opening date"),
    "ck_expo_edition_reuse_fee_percent": ("复用证件收费比例须在 0 到 100 之间",
                                          "The reuse fee must be between 0 and 100 %"),
    "uq_sub_delegation_code": ("交易分团代码已存在", "This sub-delegation code already exists"),
    "ck_sub_delegation_quotas_non_negative": ("交易分团的VIP额度和工作人员额度不能为负数",
                                              "Quotas cannot be negative"),
    "ck_sub_delegation_budget_non_negative": ("统付额度不能为负数", "The co-payment budget cannot be negative"),
    "ck_sub_delegation_target_non_negative": ("招商任务不能为负数", "The recruitment target cannot be negative"),
    "uq_organization_edition_uscc": ("该统一社会信用代码本届已注册",
                                     "This USCC is already registered for this edition"),
    "ck_organization_quotas_non_negative": ("单位的VIP额度和工作人员额度不能为负数", "Quotas cannot be negative"),
    "ck_organization_domestic_needs_uscc": ("境内单位须填写统一社会信用代码", "Domestic organisations need a USCC"),
    "uq_quota_allocation_edition_uscc": ("该统一社会信用代码本届已有额度预分配",
                                         "This USCC already has a pre-allocated quota for this edition"),
    "ck_quota_allocation_quotas_non_negative": ("预分配的VIP额度和工作人员额度不能为负数",
                                                "Quotas cannot be negative"),
    "uq_org_address_position": ("该序号的地址已存在（每个单位最多 5 个地址）",
                                "An address with this number exists (at most 5 per organisation)"),
    "ck_org_address_at_most_five": ("每个单位最多 5 个快递地址（序号 1 到 5）",
                                    "At most 5 delivery addresses per organisation (numbers 1 to 5)"),
    "uq_person_edition_id_number": ("该证件号码本届已登记", "This ID number is already registered for this edition"),
    "ck_person_copay_non_negative": ("统付金额不能为负数", "The co-paid amount cannot be negative"),
    "ck_person_copay_amount_only_when_confirmed": ("只有已确认统付的人员才有统付金额",
                                                   "Only persons with confirmed co-payment have a co-paid amount"),
    "uq_badge_order_number": ("订单号已存在", "This order number already exists"),
    "ck_badge_order_total_non_negative": ("订单金额不能为负数", "The order total cannot be negative"),
    "uq_order_line_person": ("该人员已在此订单中", "This person is already on the order"),
    "uq_order_line_one_open_per_person": ("该人员已在另一个未取消的订单中", "This person is already on an open order"),
    "ck_order_line_fee_non_negative": ("证件费不能为负数", "The fee cannot be negative"),
    "ck_payment_amount_positive": ("支付金额须大于 0", "The payment amount must be positive"),
    "ck_payment_gateway_has_reference": ("扫码和B2B支付须有交易流水号", "A gateway payment needs its reference"),
    "ck_payment_recorded_means_gateway": ("只有扫码和B2B支付直接到账，转账须经财务核验",
                                          "Only gateway payments are recorded directly; transfers are verified"),
    "uq_payment_gateway_reference": ("该交易流水号已记录过", "This gateway reference is already recorded"),
    "uq_payment_one_submitted_per_order": ("该订单已有待审核的汇款凭证", "This order already has a voucher under review"),
    "uq_payment_one_settled_per_order": ("该订单已支付", "This order is already paid"),
    "ck_invoice_amount_positive": ("发票金额须大于 0", "The invoice amount must be positive"),
    "uq_invoice_one_valid_per_order": ("每个订单只能有一张有效发票", "An order has at most one valid invoice"),
    "uq_invoice_number": ("发票号码已被使用", "This invoice number is already used"),
    "ck_refund_amount_positive": ("退款金额须大于 0", "The refund amount must be positive"),
    "ck_refund_not_more_than_paid": ("退款金额不能超过已付金额", "A refund cannot exceed the amount paid"),
    # Seed 002 (非原路返回): all four details for a refund to a bank account.
    "ck_refund_bank_account_details": ("退款到银行账户须填写收款人名称、账号、开户银行和开户银行行号",
                                       "A refund to a bank account needs the payee, account, bank and bank code"),
    "uq_refund_one_active_per_line": ("该订单明细已有进行中的退款", "This order line already has an active refund"),
    "ck_deal_intention_amount_positive": ("意向金额须大于 0", "The amount must be positive"),
}
GENERIC_MESSAGE = ("保存失败：数据不符合规则，未做任何修改", "Not saved: the data breaks a rule; nothing was changed")
FOREIGN_KEY_MESSAGE = ("所选的关联记录不存在或仍被其他记录引用，未做任何修改",
                       "A related record does not exist or is still referenced; nothing was changed")
# PostgreSQL SQLSTATEs of errors a person can cause by what they typed, or by acting at a busy moment.
SQLSTATE_MESSAGES = {
    "22001": ("内容过长，未做任何修改", "A value is too long; nothing was changed"),
    "22003": ("数值超出允许范围，未做任何修改", "A number is out of range; nothing was changed"),
    "22007": ("日期或时间无效，未做任何修改", "A date or time is invalid; nothing was changed"),
    "22008": ("日期或时间超出范围，未做任何修改", "A date or time is out of range; nothing was changed"),
    "22P02": ("格式无效，未做任何修改", "A value has an invalid format; nothing was changed"),
    "40001": ("其他人正在修改相同的数据，请稍后重试", "Someone else is changing the same data; try again"),
    "40P01": ("其他人正在修改相同的数据，请稍后重试", "Someone else is changing the same data; try again"),
    "55P03": ("数据正被其他操作锁定，请稍后重试", "The data is locked by another action; try again"),
    "57014": ("操作超时，未做任何修改", "The action timed out; nothing was changed"),
}
BUSY_MESSAGE = SQLSTATE_MESSAGES["55P03"]


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if str(lang or "zh").startswith("en") else pair[0]


def _label(column) -> tuple[str, str]:
    return column.info.get("label") or (column.key, column.key)


def _unique_constraints():
    """(table, name, column names) of every UNIQUE constraint and unique index."""
    for table in Base.metadata.sorted_tables:
        for item in list(table.constraints) + list(table.indexes):
            if isinstance(item, UniqueConstraint) or (isinstance(item, Index) and item.unique):
                yield table, item.name, [c.name for c in item.columns]


def enum_messages() -> dict[str, tuple[str, str]]:
    """{enum CHECK name: sentence}: a value outside an enum column's members."""
    out = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Enum):
                label = _label(column)
                out[f"ck_{table.name}_{column.type.name}"] = (f"「{label[0]}」的取值无效", f"Invalid {label[1]}")
    return out


def constraint_names() -> set[str]:
    """Names of every CHECK and UNIQUE constraint (and unique index) in models/."""
    names = {name for _, name, _ in _unique_constraints()}
    for table in Base.metadata.sorted_tables:
        names |= {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
    return names


def constraint_message(name: str | None, lang: str = "zh") -> str:
    """The sentence for a constraint name (the generic sentence for a name it does not know)."""
    pair = CONSTRAINT_MESSAGES.get(name or "") or enum_messages().get(name or "") or GENERIC_MESSAGE
    return _pick(pair, lang)


def _column_label(table_name: str | None, column_name: str | None) -> tuple[str, str] | None:
    table = Base.metadata.tables.get(table_name or "")
    if table is None or column_name not in table.columns:
        return None
    return _label(table.columns[column_name])


def _name_from_text(text: str) -> str | None:
    """The constraint a driver message names: by name (PostgreSQL, SQLite CHECK) or by columns (SQLite UNIQUE)."""
    match = re.search(r"UNIQUE constraint failed: ([\w., ]+)", text)
    if match:
        failed = [c.strip() for c in match.group(1).split(",")]
        for table, name, columns in _unique_constraints():
            if failed == [f"{table.name}.{c}" for c in columns]:
                return name
    known = sorted(constraint_names() | set(enum_messages()), key=len, reverse=True)
    return next((name for name in known if name in text), None)


def database_error_message(exc: BaseException, lang: str = "zh") -> str:
    """A sentence for a database error that refused a change; never the driver's own text."""
    orig = getattr(exc, "orig", exc) if isinstance(exc, DBAPIError) else exc
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None)
    text = str(orig)
    name = getattr(diag, "constraint_name", None) or _name_from_text(text)
    if sqlstate == "23502" or "NOT NULL constraint failed" in text:  # a required value is missing
        table, column = getattr(diag, "table_name", None), getattr(diag, "column_name", None)
        match = re.search(r"NOT NULL constraint failed: (\w+)\.(\w+)", text)
        if match:
            table, column = match.groups()
        label = _column_label(table, column)
        if label:
            return _pick((f"「{label[0]}」不能为空", f"{label[1]} is required"), lang)
        return _pick(GENERIC_MESSAGE, lang)
    if sqlstate == "23503" or "FOREIGN KEY constraint failed" in text:
        return _pick(FOREIGN_KEY_MESSAGE, lang)
    if name:
        return constraint_message(name, lang)
    if sqlstate in SQLSTATE_MESSAGES:
        return _pick(SQLSTATE_MESSAGES[sqlstate], lang)
    if "database is locked" in text:
        return _pick(BUSY_MESSAGE, lang)
    return _pick(GENERIC_MESSAGE, lang)


# --------------------------------------------------------------------------------------------------
# Labels in a language: enums, fields and audit actions
# --------------------------------------------------------------------------------------------------

# Usage columns the quota module derives (column_property): no table column carries their label.
DERIVED_LABELS: dict[str, tuple[str, str]] = {
    "vip_used": ("VIP已用", "VIP used"),
    "staff_used": ("工作人员已用", "Staff used"),
    "copay_used": ("统付已用（元）", "Co-payment used (CNY)"),
}

# Audit actions that are not workflow transitions (those take their transition's label), by verb.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "created": ("新建", "Created"),
    "edited": ("修改", "Edited"),
    "password_reset": ("重置密码", "Password reset"),
    "password_changed": ("修改密码", "Password changed"),
}
# ... and by their whole name: the money verbs that insert rows, and co-payments given back.
OPERATION_ACTION_LABELS: dict[str, tuple[str, str]] = {
    "order.created": ("生成订单", "Order created"),
    "payment.submitted": ("上传汇款凭证", "Transfer voucher submitted"),
    "payment.recorded": ("网关支付到账", "Gateway payment recorded"),
    "invoice.requested": ("申请开票", "Invoice requested"),
    "refund.requested": ("申请退款", "Refund requested"),
    "person.copay_returned": ("退回统付额度", "Co-payment returned"),
}


def enum_label(member, lang: str = "zh") -> str:
    """An enum member's label (its stored value when it is not a labelled enum)."""
    if member is None:
        return ""
    return _pick((member.zh, member.en), lang) if hasattr(member, "zh") else str(member)


def field_label(model, key: str, lang: str = "zh") -> str:
    """The label of a model's column (or relationship) in the language; the key when it has none."""
    pair = label_pair(model, key)
    return _pick(pair, lang) if pair else key


def label_pair(model, key: str) -> tuple[str, str] | None:
    """(zh, en) label of a column, a relationship (its own, else its foreign key's) or a derived column."""
    column = model.__table__.c.get(key)
    if column is not None and "label" in column.info:
        return column.info["label"]
    relationship = inspect(model).relationships.get(key)
    if relationship is not None:
        if "label" in relationship.info:
            return relationship.info["label"]
        for local in relationship.local_columns:  # delegation -> delegation_id: 交易团
            if "label" in local.info and local.table is model.__table__:
                return local.info["label"]
    return DERIVED_LABELS.get(key)


def action_label(action: str, lang: str = "zh") -> str:
    """'organization.returned_for_edit' -> 退回修改: the transition's label, or the label of an operation."""
    for transition in _transitions():
        if transition.audit_action == action:
            return _pick(transition.label, lang)
    pair = OPERATION_ACTION_LABELS.get(action) or ACTION_LABELS.get(action.partition(".")[2])
    return _pick(pair, lang) if pair else action


def audit_actions() -> list[str]:
    """Every audit action the domain writes, once each: the transitions', the operations', creates and edits."""
    actions = [t.audit_action for t in _transitions()] + list(OPERATION_ACTION_LABELS)
    actions += [f"{object_type}.{verb}" for object_type in OBJECT_LABELS for verb in ("created", "edited")]
    actions += ["user.password_reset", "user.password_changed"]
    return list(dict.fromkeys(actions))


# --------------------------------------------------------------------------------------------------
# Times, yes/no and the language names
# --------------------------------------------------------------------------------------------------

BEIJING = ZoneInfo("Asia/Shanghai")
YES_NO = (("是", "Yes"), ("否", "No"))
EMPTY = ("（空）", "(empty)")
SYSTEM = ("系统", "System")  # the actor of entries written by the CLI, importers and jobs
# The interface languages a user may choose, each named in itself.
LOCALE_NAMES: dict[str, str] = {"zh_CN": "中文", "en": "English"}


def beijing(value: datetime) -> datetime:
    """A stored time in Beijing time; a naive one (SQLite drops the zone) is UTC, as every time is stored."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BEIJING)


def beijing_minute(value) -> str:
    """2025-10-09 14:05: a time as people read it, in Beijing time to the minute ('' for None)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = _parse_time(value)
        if isinstance(value, str):
            return value
    return beijing(value).strftime("%Y-%m-%d %H:%M")


def _parse_time(text: str):
    """A time the audit log keeps as text ('2025-10-12 13:05:00+08:00'); the text itself if it is none."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def yes_no(value, lang: str = "zh") -> str:
    """是 / 否 (Yes / No)."""
    return _pick(YES_NO[0] if value else YES_NO[1], lang)


def locale_name(code: str | None, lang: str = "zh") -> str:
    """中文 / English for a stored interface language; the default language when none is set."""
    if not code:
        return _pick(("默认（中文）", "Default (Chinese)"), lang)
    return LOCALE_NAMES.get(code, code)


# --------------------------------------------------------------------------------------------------
# Objects of the audit log and the outbox: what they are, their states and their parameters in words
# --------------------------------------------------------------------------------------------------

# Singular names of the object types the audit log and the outbox refer to (models' __label__ are plural).
OBJECT_LABELS: dict[str, tuple[str, str]] = {
    "organization": ("单位", "Organisation"),
    "person": ("参观人员", "Person"),
    "org_address": ("快递地址", "Delivery address"),
    "quota_allocation": ("额度预分配", "Quota pre-allocation"),
    "deal_intention": ("意向成交", "Deal intention"),
    "order": ("订单", "Order"),
    "order_line": ("订单明细", "Order line"),
    "payment": ("支付记录", "Payment"),
    "invoice": ("发票", "Invoice"),
    "refund": ("退款", "Refund"),
    "sub_delegation": ("交易分团", "Sub-delegation"),
    "delegation": ("交易团", "Delegation"),
    "expo_edition": ("展会届次", "Expo edition"),
    "user": ("管理用户", "User"),
}
# Outbox templates by what the message says; a template not listed is named after its transition.
TEMPLATE_LABELS: dict[str, tuple[str, str]] = {
    "person_please_pay": ("缴费通知", "Please-pay notice"),
    "person_review_failed": ("人员审核不通过通知", "Review failed notice"),
    "organization_approved": ("单位审核通过通知", "Approval notice"),
    "organization_returned": ("单位退回修改通知", "Return-for-edit notice"),
    "organization_rejected": ("单位审核不通过通知", "Rejection notice"),
    "mass_mail": ("群发邮件", "Mass e-mail"),
}
# Parameters of entries whose transition is unknown (an action since renamed): still in words.
COMMON_PARAM_LABELS: dict[str, tuple[str, str]] = {
    "reason": ("原因", "Reason"),
    "sub_delegation_id": ("交易分团", "Sub-delegation"),
    "label": ("人员标签", "Label"),
    "amount": ("金额", "Amount"),
    "order": ("订单", "Order"),
    "voucher": ("汇款凭证", "Transfer voucher"),
    "copay_returned": ("退回统付金额（元）", "Co-payment returned (CNY)"),
    "subject": ("邮件主题", "Subject"),
    "body": ("邮件正文", "Message"),
}
# The generated path of a stored upload (licence/<hex>.jpg), as the audit log keeps it.
STORED_FILE = re.compile(r"^[a-z]+/(?:[\w.-]+/)*[\w-]+\.(jpg|jpeg|png|pdf)$", re.IGNORECASE)
# Columns that name a row, in the order they are tried (orders by number, users by display name).
NAME_COLUMNS = ("name", "display_name", "username", "number", "title", "address")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@lru_cache(maxsize=None)
def _models_by_type() -> dict[str, type]:
    """{object type: mapped class}: the class name in snake case (OrgAddress -> org_address) and the table name."""
    out = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        out.setdefault(cls.__tablename__, cls)
        out[_snake(cls.__name__)] = cls  # 'order' is Order although its table is badge_order
    return out


def model_for(object_type: str | None):
    """The mapped class an audit or outbox object type names, or None."""
    return _models_by_type().get(object_type or "")


def object_type_of(model) -> str | None:
    """The object type the audit log files a class's rows under (OrgAddress -> org_address), if it files them."""
    object_type = _snake(model.__name__)
    return object_type if object_type in OBJECT_LABELS else None


def object_label(object_type: str | None, lang: str = "zh") -> str:
    """'organization' -> 单位: what an audit or outbox entry is about."""
    pair = OBJECT_LABELS.get(object_type or "")
    if pair is None:
        model = model_for(object_type)
        pair = getattr(model, "__label__", None)
    return _pick(pair, lang) if pair else (object_type or "")


def state_label(object_type: str | None, value: str | None, lang: str = "zh") -> str:
    """A stored state value as its label ('returned' -> 退回修改); the value itself if the type has no such state."""
    if not value:
        return ""
    model = model_for(object_type)
    column = model.__table__.c.get("state") if model is not None else None
    enum_cls = getattr(getattr(column, "type", None), "enum_class", None)
    try:
        return enum_label(enum_cls(value), lang) if enum_cls else value
    except ValueError:
        return value


def state_change(object_type: str | None, from_state: str | None, to_state: str | None, lang: str = "zh") -> str:
    """「待审核 → 退回修改」; one label when the state stayed (or there was none before)."""
    after = state_label(object_type, to_state, lang)
    before = state_label(object_type, from_state, lang)
    if not before or before == after:
        return after or before
    return f"{before} → {after}" if after else before


def template_label(template: str | None, channel=None, lang: str = "zh") -> str:
    """'person_please_pay' -> 缴费通知（短信）: an outbox template by what it says, and how it is sent."""
    pair = TEMPLATE_LABELS.get(template or "") or _notice_of_transition(template)
    words = _pick(pair, lang) if pair else (template or "")
    if channel is None:
        return words
    how = enum_label(channel, lang) if hasattr(channel, "zh") else str(channel)
    return f"{words}（{how}）" if not _english(lang) else f"{words} ({how})"


def _notice_of_transition(template: str | None) -> tuple[str, str] | None:
    """A template no one named: the notice of the transition that sends it (退回修改 -> 退回修改通知)."""
    for transition in _transitions():
        if any(notice.template == template for notice in transition.notices()):
            return transition.label[0] + "通知", transition.label[1] + " notice"
    return None


def _transitions():
    """Every transition, including those only another transition fires (a paid order's persons)."""
    from models.workflows import ALL_WORKFLOWS  # the workflows import the domain, which imports this module

    return [t for workflow in ALL_WORKFLOWS for t in workflow.transitions]


def _english(lang: str | None) -> bool:
    return str(lang or "zh").startswith("en")


def actor_name(actor, lang: str = "zh") -> str:
    """Who made a change: the user's name, or 系统 for the CLI, importers and jobs."""
    return str(actor) if actor is not None else _pick(SYSTEM, lang)


# --- parameters ---------------------------------------------------------------------------------------


def _declared_params(action: str | None) -> dict:
    """{name: Param} of the transition that wrote this audit action."""
    for transition in _transitions():
        if transition.audit_action == action:
            return {p.name: p for p in transition.params}
    return {}


def template_action(template: str | None) -> str | None:
    """The audit action of the transition whose message uses this outbox template (its parameters are the same)."""
    return next((t.audit_action for t in _transitions()
                 if any(notice.template == template for notice in t.notices())), None)


def _param_label(model, key: str, param, lang: str) -> str:
    """A parameter's label: the transition's own, else the column's, else a common one, else the key."""
    if param is not None:
        return _pick(param.label, lang)
    pair = (label_pair(model, key) if model is not None else None) or COMMON_PARAM_LABELS.get(key)
    return _pick(pair, lang) if pair else key


def _is_edit(action: str | None) -> bool:
    return (action or "").rpartition(".")[2] == "edited"


def _referenced_model(model, key: str, param=None):
    """The class of the rows a parameter names by id (sub_delegation_id -> SubDelegation), or None."""
    if param is not None and param.kind == "sub_delegation":
        return model_for("sub_delegation")
    if model is None:
        return None
    column = model.__table__.c.get(key)
    if column is not None:
        for fk in column.foreign_keys:
            return model_for(fk.column.table.name)
        return None
    relationship = inspect(model).relationships.get(key)
    return relationship.mapper.class_ if relationship is not None else None


def _ids(value) -> list[int]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [int(v) for v in values if isinstance(v, int) or (isinstance(v, str) and v.isdigit())]


def referenced_ids(object_type: str | None, action: str | None, params: dict | None) -> dict[type, set[int]]:
    """{class: ids} of the rows an entry's parameters name by id, so a page looks their names up at once."""
    model, declared, wanted = model_for(object_type), _declared_params(action), {}
    for key, value in (params or {}).items():
        target = _referenced_model(model, key, declared.get(key))
        if target is None:
            continue
        values = value if _is_edit(action) and isinstance(value, list) else [value]
        for item in values:
            wanted.setdefault(target, set()).update(_ids(item))
    return wanted


def name_column(model):
    """The column that names a row of this class (None: rows are named by their id)."""
    return next((getattr(model, c) for c in NAME_COLUMNS if c in model.__table__.c), None)


def row_names(session, wanted: Mapping[type, Iterable[int]]) -> dict[tuple[type, int], str]:
    """{(class, id): name} of the wanted rows: those the session already holds cost nothing (a list's own
    sub-delegations), the rest one query per class, whatever the number of entries."""
    names = {}
    for model, ids in wanted.items():
        column = name_column(model)
        if column is None:
            continue
        missing = []
        for row_id in sorted(set(ids)):
            held = session.identity_map.get(identity_key(model, row_id))
            if held is not None and column.key in held.__dict__:  # loaded, not expired: no query to read it
                names[(model, row_id)] = str(held.__dict__[column.key])
            else:
                missing.append(row_id)
        if missing:
            for row_id, name in session.execute(select(model.id, column).where(model.id.in_(missing))):
                names[(model, row_id)] = str(name)
    return names


def describe_params(object_type: str | None, action: str | None, params: dict | None, lang: str = "zh",
                    names: Mapping[tuple[type, int], str] | None = None,
                    masked: Mapping[str, str] | None = None) -> list[str]:
    """An entry's parameters in words: 「退回修改意见：材料不全」, 「目标交易分团：珠海市」, and edits as
    「联系人手机：138****8000 → 139****9000」. Personal values are masked when written; `masked` ({key: MASK |
    YEAR}, as masked_columns gives it for the reader's role) hides what that reader may not see even so."""
    model, declared, names, masked = model_for(object_type), _declared_params(action), names or {}, masked or {}
    out = []
    for key, value in (params or {}).items():
        param = declared.get(key)
        label = _param_label(model, key, param, lang)
        if _is_edit(action) and isinstance(value, list) and len(value) == 2:
            words = " → ".join(_seen(value_words(model, key, v, lang, names, param), masked.get(key)) for v in value)
        else:
            words = _seen(value_words(model, key, value, lang, names, param), masked.get(key))
        out.append(f"{label}: {words}" if _english(lang) else f"{label}：{words}")
    return out


def _seen(words: str, kind: str | None) -> str:
    """Words of a personal value as a reader with this masking kind sees them: a year at most for YEAR
    columns (a value masked when written no longer has one), masked for MASK columns."""
    if kind is None or words == "" or words in EMPTY:
        return words
    if kind == YEAR:
        year = re.match(r"^(\d{4})-\d{2}-\d{2}$", words)
        return year.group(1) if year else "****"
    return words if "*" in words else mask(words)


def value_words(model, key: str, value, lang: str = "zh", names: Mapping | None = None, param=None) -> str:
    """One stored parameter value in words: names for ids, labels for enum values, 是/否, Beijing times."""
    if value is None or value == "" or value == []:
        return _pick(EMPTY, lang)
    target = _referenced_model(model, key, param)
    if target is not None:
        return "、".join((names or {}).get((target, i)) or f"#{i}" for i in _ids(value)) or str(value)
    if isinstance(value, list):
        return "、".join(value_words(model, key, v, lang, names, param) for v in value)
    if isinstance(value, bool):
        return yes_no(value, lang)
    column = model.__table__.c.get(key) if model is not None else None
    kind = getattr(column, "type", None)
    if getattr(kind, "enum_class", None):
        try:
            return enum_label(kind.enum_class(value), lang)
        except ValueError:
            return str(value)
    if isinstance(kind, Boolean):
        return yes_no(value in (1, "1", "true", "True"), lang)
    if isinstance(kind, DateTime):
        return beijing_minute(str(value))
    if model is not None and model.__tablename__ == "admin_user" and key == "locale":
        return locale_name(value, lang)
    stored = STORED_FILE.match(str(value))
    if stored:  # a stored upload's generated path says nothing to a reader: that there is a file, and its type
        return _pick((f"已上传（{stored.group(1)}）", f"uploaded ({stored.group(1)})"), lang)
    return str(value)
