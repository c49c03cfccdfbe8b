"""Expo editions, the delegation tree and the back-office users."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Column, Date, ForeignKey, Integer, Numeric, String, Table
from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, created_at_column, updated_at_column
from models.columns import col, enum_col, fk
from models.enums import Role, SubDelegationKind


class ExpoEdition(Base):
    """One edition (届) of the expo: dates, fees and payment deadlines."""

    __tablename__ = "expo_edition"
    __label__ = ("展会届次", "Expo editions")

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = col(Integer, "届次", "Edition", unique=True)
    name: Mapped[str] = col(String(100), "名称", "Name")
    start_date: Mapped[date] = col(Date, "开幕日期", "Opens")
    end_date: Mapped[date] = col(Date, "闭幕日期", "Closes", info={"not_before": "start_date"})
    entry_days: Mapped[str] = col(String(200), "入场日期", "Entry days", default="")
    fee_per_label: Mapped[Decimal] = col(Numeric(10, 2), "证件费（元/人）", "Badge fee (CNY)", default=Decimal("200"),
                                          info={"range": (0, 10_000)})
    reuse_fee_percent: Mapped[int] = col(Integer, "复用证件收费比例（%）", "Reuse fee (%)", default=50,
                                          info={"range": (0, 100)})
    transfer_deadline: Mapped[date | None] = col(Date, "转账支付截止日", "Transfer deadline", nullable=True)
    qr_deadline: Mapped[date | None] = col(Date, "扫码支付截止日", "QR deadline", nullable=True)
    b2b_deadline: Mapped[date | None] = col(Date, "B2B支付截止日", "B2B deadline", nullable=True)
    is_current: Mapped[bool] = col(Boolean, "当前届次", "Current", default=False)

    __table_args__ = (
        CheckConstraint("reuse_fee_percent BETWEEN 0 AND 100", name="reuse_fee_percent"),
        CheckConstraint("fee_per_label >= 0", name="fee_non_negative"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
    )

    def __str__(self) -> str:
        return self.name


class Delegation(Base):
    """The provincial trading delegation (交易团)."""

    __tablename__ = "delegation"
    __label__ = ("交易团", "Delegations")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = col(String(32), "代码", "Code", unique=True)
    name: Mapped[str] = col(String(100), "名称", "Name")

    sub_delegations: Mapped[list[SubDelegation]] = relationship(back_populates="delegation")

    def __str__(self) -> str:
        return self.name


class SubDelegation(Base):
    """A sub-delegation (交易分团): one per city or provincial department."""

    __tablename__ = "sub_delegation"
    __label__ = ("交易分团", "Sub-delegations")

    id: Mapped[int] = mapped_column(primary_key=True)
    delegation_id: Mapped[int] = fk("delegation.id", "交易团", "Delegation")
    seq: Mapped[int] = col(Integer, "序号", "No.", default=0)
    code: Mapped[str] = col(String(32), "代码", "Code", unique=True)
    name: Mapped[str] = col(String(100), "成员单位", "Name")
    kind: Mapped[SubDelegationKind] = enum_col(SubDelegationKind, "sub_delegation_kind", "类型", "Kind")
    # Up to a million organisations: the national-scale demo (seed-demo --orgs 200000) grows targets to match.
    recruitment_target: Mapped[int] = col(Integer, "招商任务（家）", "Recruitment target", default=0,
                                           info={"range": (0, 1_000_000)})
    vip_quota: Mapped[int] = col(Integer, "VIP额度", "VIP quota", default=0, info={"range": (0, 100_000)})
    staff_quota: Mapped[int] = col(Integer, "工作人员额度", "Staff quota", default=0, info={"range": (0, 100_000)})
    copay_budget: Mapped[Decimal] = col(Numeric(14, 2), "统付额度（元）", "Co-payment budget (CNY)", default=Decimal(0),
                                        info={"range": (0, 100_000_000)})
    contact_name: Mapped[str | None] = col(String(50), "联系人", "Contact", nullable=True)
    contact_position: Mapped[str | None] = col(String(50), "职务", "Position", nullable=True)
    office_phone: Mapped[str | None] = col(String(50), "办公电话", "Office phone", nullable=True)
    mobile: Mapped[str | None] = col(String(20), "手机", "Mobile", nullable=True, info={"sensitive": True})
    fax: Mapped[str | None] = col(String(50), "传真", "Fax", nullable=True)

    delegation: Mapped[Delegation] = relationship(back_populates="sub_delegations")

    __table_args__ = (
        CheckConstraint("recruitment_target >= 0", name="target_non_negative"),
        CheckConstraint("vip_quota >= 0 AND staff_quota >= 0", name="quotas_non_negative"),
        CheckConstraint("copay_budget >= 0", name="budget_non_negative"),
    )

    def __str__(self) -> str:
        return self.name


user_sub_delegation = Table(
    "user_sub_delegation",
    Base.metadata,
    Column("user_id", ForeignKey("admin_user.id", ondelete="CASCADE"), primary_key=True),
    Column("sub_delegation_id", ForeignKey("sub_delegation.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A back-office account with one role; sub-delegation admins are bound to sub-delegations."""

    __tablename__ = "admin_user"
    __label__ = ("管理用户", "Users")

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = col(String(64), "用户名", "Username", unique=True)
    display_name: Mapped[str] = col(String(100), "姓名", "Name", default="")
    password_hash: Mapped[str] = col(String(255), "密码", "Password", info={"secret": True})
    role: Mapped[Role] = enum_col(Role, "user_role", "角色", "Role")
    locale: Mapped[str | None] = col(String(10), "界面语言", "Language", nullable=True)
    # Bound by the user (seed 004: 登录后可绑定手机号、邮箱): for notices and recovering the account.
    mobile: Mapped[str | None] = col(String(20), "手机号", "Mobile", nullable=True, info={"sensitive": True})
    email: Mapped[str | None] = col(String(120), "邮箱", "E-mail", nullable=True)
    active: Mapped[bool] = col(Boolean, "启用", "Active", default=True)
    # Part of the login token: bumping it ends every session of the user (logout, password, role, scope).
    session_version: Mapped[int] = col(Integer, "会话版本", "Session version", default=0, server_default="0")
    created_at = created_at_column()
    updated_at = updated_at_column()

    # The login loader fetches these with the user in one statement (joinedload): scope needs the ids.
    sub_delegations: Mapped[list[SubDelegation]] = relationship(
        secondary=user_sub_delegation, lazy="select", info={"label": ("所属分团", "Sub-delegations")})

    @property
    def sub_delegation_ids(self) -> list[int]:
        return sorted(s.id for s in self.sub_delegations)

    # The session-user protocol (Flask-Login's), written here so the domain needs no web import.
    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The login token: id and session version, so a bumped version invalidates old cookies."""
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self) -> None:
        """Invalidate every session of this user (the next request of each must sign in again)."""
        self.session_version = (self.session_version or 0) + 1

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    def __str__(self) -> str:
        return self.display_name or self.username


# Fields whose change must end the user's sessions: credentials, role, activation and scope.
SESSION_ENDING_FIELDS = ("password_hash", "role", "active", "sub_delegations")


@event.listens_for(Session, "before_flush")
def _end_sessions_on_security_change(session, flush_context, instances) -> None:
    """A changed password, role, activation or sub-delegation binding ends every session of that user."""
    for obj in session.dirty:
        if not isinstance(obj, User):
            continue
        state = inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in SESSION_ENDING_FIELDS) \
                and not state.attrs["session_version"].history.has_changes():
            obj.end_sessions()
