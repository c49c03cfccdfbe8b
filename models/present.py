"""How the domain is shown to a person, without a request: masking of personal data and readable
sentences for the database constraints that refused a change.

Plain functions of (column or error, role, lang); views, CLI, importers and reports call them.
"""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import CheckConstraint, Enum, Index, UniqueConstraint
from sqlalchemy.exc import DBAPIError

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
    """440***********1234: keep the first three and last four characters."""
    if value is None or value == "":
        return ""
    value = str(value)
    return value[:3] + "*" * max(len(value) - 7, 1) + value[-4:] if len(value) > 7 else "*" * len(value)


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
    "ck_order_line_fee_non_negative": ("证件费不能为负数", "The fee cannot be negative"),
    "ck_payment_amount_positive": ("支付金额须大于 0", "The payment amount must be positive"),
    "ck_invoice_amount_positive": ("发票金额须大于 0", "The invoice amount must be positive"),
    "uq_invoice_one_valid_per_order": ("每个订单只能有一张有效发票", "An order has at most one valid invoice"),
    "ck_refund_amount_positive": ("退款金额须大于 0", "The refund amount must be positive"),
    "ck_refund_not_more_than_paid": ("退款金额不能超过已付金额", "A refund cannot exceed the amount paid"),
    "ck_refund_bank_account_details": ("退款到银行账户须填写收款人和银行账号",
                                       "A refund to a bank account needs the payee and the account"),
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

# Audit actions that are not workflow transitions (those take their transition's label).
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "created": ("新建", "Created"),
    "edited": ("修改", "Edited"),
    "password_reset": ("重置密码", "Password reset"),
}


def enum_label(member, lang: str = "zh") -> str:
    """An enum member's label (its stored value when it is not a labelled enum)."""
    if member is None:
        return ""
    return _pick((member.zh, member.en), lang) if hasattr(member, "zh") else str(member)


def field_label(model, key: str, lang: str = "zh") -> str:
    """The label of a model's column (or relationship) in the language; the key when it has none."""
    column = model.__table__.c.get(key)
    info = column.info if column is not None else {}
    if "label" not in info:
        relationship = getattr(model, key, None)
        info = getattr(getattr(relationship, "property", None), "info", None) or {}
    return _pick(info["label"], lang) if "label" in info else key


def action_label(action: str, lang: str = "zh") -> str:
    """'organization.returned_for_edit' -> 退回修改: the transition's label, or the label of a create/edit."""
    from models.workflows import WORKFLOWS  # the workflows import the domain, which imports this module

    object_type, _, verb = action.partition(".")
    workflow = WORKFLOWS.get(object_type)
    for transition in (workflow.transitions if workflow else ()):
        if transition.audit_action == action:
            return _pick(transition.label, lang)
    if verb in ACTION_LABELS:
        return _pick(ACTION_LABELS[verb], lang)
    return action
