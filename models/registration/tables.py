"""Organisations (单位), their delivery addresses and pre-allocated quotas, persons (参观人员) and deal intentions."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (DDL, Boolean, CheckConstraint, Date, DateTime, Index, Integer, Numeric, String, Text,
                        UniqueConstraint, event, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at_column, updated_at_column
from models.columns import col, enum_col, fk
from models.delegation.tables import ExpoEdition, SubDelegation, User
from models.enums import CopayDecision, Gender, IdType, Label, OrgCategory, OrgState, Pickup, PersonState, RegionType

MAX_ADDRESSES = 5


class Organization(Base):
    """A purchasing organisation registered with one sub-delegation for one edition."""

    __tablename__ = "organization"
    __label__ = ("单位", "Organisations")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = fk("expo_edition.id", "届次", "Edition")
    sub_delegation_id: Mapped[int] = fk("sub_delegation.id", "交易分团", "Sub-delegation")
    name: Mapped[str] = col(String(200), "单位名称", "Name")
    uscc: Mapped[str | None] = col(String(18), "统一社会信用代码", "USCC", nullable=True)
    uscc_recognised: Mapped[bool] = col(Boolean, "系统识别", "USCC recognised", default=False)
    category: Mapped[OrgCategory] = enum_col(OrgCategory, "org_category", "单位观众分类", "Category")
    region: Mapped[str | None] = col(String(100), "所在地区", "Region", nullable=True)
    referral_code: Mapped[str | None] = col(String(32), "推荐码", "Referral code", nullable=True)
    contact_name: Mapped[str | None] = col(String(50), "联系人", "Contact", nullable=True)
    contact_mobile: Mapped[str | None] = col(String(20), "联系人手机", "Contact mobile", nullable=True,
                                             info={"sensitive": True})
    contact_email: Mapped[str | None] = col(String(120), "联系人邮箱", "Contact e-mail", nullable=True)
    contact_department: Mapped[str | None] = col(String(100), "部门", "Department", nullable=True)
    contact_position: Mapped[str | None] = col(String(100), "职务", "Position", nullable=True)
    address: Mapped[str | None] = col(String(300), "单位地址", "Address", nullable=True)
    industry: Mapped[str | None] = col(String(100), "所属行业", "Industry", nullable=True)
    purchase_intentions: Mapped[str] = col(Text, "采购意向", "Purchase intentions")
    exhibition_areas: Mapped[str | None] = col(Text, "感兴趣的展区", "Exhibition areas", nullable=True)
    licence_file: Mapped[str | None] = col(String(255), "单位资质文件", "Business licence", nullable=True)
    vip_quota: Mapped[int] = col(Integer, "VIP额度", "VIP quota", default=0, info={"range": (0, 100_000)})
    staff_quota: Mapped[int] = col(Integer, "工作人员额度", "Staff quota", default=0, info={"range": (0, 100_000)})
    prior_edition: Mapped[bool] = col(Boolean, "往届观众", "Prior-edition visitor", default=False)
    state: Mapped[OrgState] = enum_col(OrgState, "org_state", "状态", "State", default=OrgState.DRAFT)
    return_reason: Mapped[str | None] = col(Text, "退回修改意见", "Return reason", nullable=True)
    reject_reason: Mapped[str | None] = col(Text, "审核不通过原因", "Rejection reason", nullable=True)
    submitted_at: Mapped[datetime | None] = col(DateTime(timezone=True), "提交时间", "Submitted at", nullable=True)
    deleted_at: Mapped[datetime | None] = col(DateTime(timezone=True), "删除时间", "Deleted at", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    edition: Mapped[ExpoEdition] = relationship(info={"label": ("届次", "Edition")})
    sub_delegation: Mapped[SubDelegation] = relationship(info={"label": ("交易分团", "Sub-delegation")})
    addresses: Mapped[list[OrgAddress]] = relationship(back_populates="organization", order_by="OrgAddress.position")

    __table_args__ = (
        UniqueConstraint("edition_id", "uscc", name="uq_organization_edition_uscc"),
        CheckConstraint("vip_quota >= 0 AND staff_quota >= 0", name="quotas_non_negative"),
        CheckConstraint("uscc IS NOT NULL OR category LIKE 'overseas%'", name="domestic_needs_uscc"),
        Index("ix_organization_scope_state", "sub_delegation_id", "state"),
        # Search (views/listing.py): the name by any part through trigrams on PostgreSQL (a plain index on
        # SQLite, which scans the names); USCC and contact mobile by a leading part, so text_pattern_ops,
        # which serves LIKE 'x%' as well as equality whatever the database's collation.
        Index("ix_organization_name_search", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        Index("ix_organization_uscc", "uscc", postgresql_ops={"uscc": "text_pattern_ops"}),
        Index("ix_organization_contact_mobile", "contact_mobile",
              postgresql_ops={"contact_mobile": "text_pattern_ops"}),
    )

    def __str__(self) -> str:
        return self.name


class OrgAddress(Base):
    """One of an organisation's at most five badge delivery addresses."""

    __tablename__ = "org_address"
    __label__ = ("证件快递地址", "Delivery addresses")
    __scope_parent__ = ("organization_id", "Organization")

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = fk("organization.id", "单位", "Organisation", ondelete="CASCADE")
    position: Mapped[int] = col(Integer, "序号", "No.", default=1, info={"range": (1, MAX_ADDRESSES)})
    recipient: Mapped[str] = col(String(50), "收件人", "Recipient")
    mobile: Mapped[str] = col(String(20), "手机号", "Mobile", info={"sensitive": True})
    address: Mapped[str] = col(String(300), "收件地址", "Address")
    is_default: Mapped[bool] = col(Boolean, "默认地址", "Default", default=False)

    organization: Mapped[Organization] = relationship(back_populates="addresses",
                                                      info={"label": ("单位", "Organisation")})

    __table_args__ = (
        # The position column makes "at most five addresses" a rule the database holds.
        UniqueConstraint("organization_id", "position", name="uq_org_address_position"),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_ADDRESSES}", name="at_most_five"),
    )

    def __str__(self) -> str:
        return f"{self.recipient} {self.address}"


class QuotaAllocation(Base):
    """VIP/staff quota imported by USCC before the organisation registers."""

    __tablename__ = "quota_allocation"
    __label__ = ("额度预分配", "Pre-allocated quotas")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = fk("expo_edition.id", "届次", "Edition")
    sub_delegation_id: Mapped[int] = fk("sub_delegation.id", "交易分团", "Sub-delegation")
    uscc: Mapped[str] = col(String(18), "统一社会信用代码", "USCC")
    organization_name: Mapped[str | None] = col(String(200), "单位名称", "Name", nullable=True)
    vip_quota: Mapped[int] = col(Integer, "VIP额度", "VIP quota", default=0, info={"range": (0, 100_000)})
    staff_quota: Mapped[int] = col(Integer, "工作人员额度", "Staff quota", default=0, info={"range": (0, 100_000)})
    created_at = created_at_column()

    edition: Mapped[ExpoEdition] = relationship(info={"label": ("届次", "Edition")})
    sub_delegation: Mapped[SubDelegation] = relationship(info={"label": ("交易分团", "Sub-delegation")})

    __table_args__ = (
        UniqueConstraint("edition_id", "uscc", name="uq_quota_allocation_edition_uscc"),
        CheckConstraint("vip_quota >= 0 AND staff_quota >= 0", name="quotas_non_negative"),
    )


class Person(Base):
    """A person (参观人员) an organisation registers for a badge."""

    __tablename__ = "person"
    __label__ = ("参观人员", "Persons")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = fk("expo_edition.id", "届次", "Edition")
    organization_id: Mapped[int] = fk("organization.id", "单位", "Organisation")
    # Copied from the organisation so that scope and dashboards need no join on a million rows;
    # assign_delegation moves it together with the organisation's.
    sub_delegation_id: Mapped[int] = fk("sub_delegation.id", "交易分团", "Sub-delegation")
    name: Mapped[str] = col(String(100), "姓名", "Name")
    gender: Mapped[Gender] = enum_col(Gender, "gender", "性别", "Gender")
    region_type: Mapped[RegionType] = enum_col(RegionType, "region_type", "地区类型", "Region type",
                                               default=RegionType.MAINLAND)
    id_type: Mapped[IdType] = enum_col(IdType, "id_type", "证件类型", "ID type", default=IdType.RESIDENT_ID)
    id_number: Mapped[str] = col(String(40), "证件号码", "ID number", info={"sensitive": True})
    # Year only for masked roles: with the masked ID number a full birth date leaves a few dozen candidates.
    birth_date: Mapped[date | None] = col(Date, "出生日期", "Birth date", nullable=True, info={"sensitive": "year"})
    mobile: Mapped[str | None] = col(String(20), "手机号", "Mobile", nullable=True, info={"sensitive": True})
    email: Mapped[str | None] = col(String(120), "邮箱", "E-mail", nullable=True)
    position: Mapped[str | None] = col(String(100), "职务", "Position", nullable=True)
    photo: Mapped[str | None] = col(String(255), "证件照", "Photo", nullable=True)
    entry_days: Mapped[str | None] = col(String(200), "入场日期", "Entry days", nullable=True)
    pickup: Mapped[Pickup] = enum_col(Pickup, "pickup", "领取方式", "Pickup", default=Pickup.EXPRESS)
    address_id: Mapped[int | None] = fk("org_address.id", "快递地址", "Delivery address", nullable=True,
                                        ondelete="SET NULL")
    label: Mapped[Label] = enum_col(Label, "person_label", "人员标签", "Label", default=Label.PROFESSIONAL)
    is_reuse: Mapped[bool] = col(Boolean, "证件复用", "Badge reuse", default=False)
    prior_badge_number: Mapped[str | None] = col(String(40), "往届证件号", "Prior badge no.", nullable=True)
    badge_number: Mapped[str | None] = col(String(40), "证件编号", "Badge no.", nullable=True)
    invalid_badge_number: Mapped[str | None] = col(String(40), "已失效证件编号", "Invalidated badge no.",
                                                   nullable=True)
    state: Mapped[PersonState] = enum_col(PersonState, "person_state", "状态", "State", default=PersonState.SAVED)
    copay: Mapped[CopayDecision] = enum_col(CopayDecision, "copay_decision", "统付", "Co-payment",
                                            default=CopayDecision.UNDECIDED)
    copay_amount: Mapped[Decimal] = col(Numeric(10, 2), "统付金额（元）", "Co-paid amount (CNY)", default=Decimal(0))
    review_note: Mapped[str | None] = col(Text, "审核意见", "Review note", nullable=True)
    created_at = created_at_column()
    updated_at = updated_at_column()

    edition: Mapped[ExpoEdition] = relationship(info={"label": ("届次", "Edition")})
    organization: Mapped[Organization] = relationship(info={"label": ("单位", "Organisation")})
    sub_delegation: Mapped[SubDelegation] = relationship(info={"label": ("交易分团", "Sub-delegation")})
    address: Mapped[OrgAddress | None] = relationship(info={"label": ("快递地址", "Delivery address")})

    __table_args__ = (
        UniqueConstraint("edition_id", "id_type", "id_number", name="uq_person_edition_id_number"),
        CheckConstraint("copay_amount >= 0", name="copay_non_negative"),
        CheckConstraint("(copay = 'confirmed') OR copay_amount = 0", name="copay_amount_only_when_confirmed"),
        # No index holds `state`: a transition then changes no indexed column, so PostgreSQL updates the row in
        # place on its page (a HOT update) without writing all of person's indexes again; 20% of each page is
        # kept free for it. 50,000 persons in a million: the UPDATE 2.3 s -> 0.7 s. State filters still find
        # their rows through the scope index or the id order (BENCHMARKS.md); counts come from person_tally.
        Index("ix_person_scope_label", "sub_delegation_id", "label"),
        Index("ix_person_organization", "organization_id", "label"),
        Index("ix_person_name_prefix", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index("ix_person_mobile", "mobile", postgresql_ops={"mobile": "text_pattern_ops"}),
        {"postgresql_with": {"fillfactor": 80}},
    )

    def __str__(self) -> str:
        return self.name


# An ID number is searched case-insensitively (a passport typed in lower case): upper(id_number) = :TERM.
Index("ix_person_id_number_upper", func.upper(Person.id_number))
# The organisation-name trigram index needs pg_trgm; create_all() (tests, first start) creates it first.
event.listen(Organization.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))


class DealIntention(Base):
    """A deal an organisation intends to close with an exhibitor (意向成交)."""

    __tablename__ = "deal_intention"
    __label__ = ("意向成交", "Deal intentions")
    __scope_column__ = "sub_delegation_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = fk("organization.id", "单位", "Organisation")
    sub_delegation_id: Mapped[int] = fk("sub_delegation.id", "交易分团", "Sub-delegation")
    exhibitor: Mapped[str] = col(String(200), "展商", "Exhibitor")
    amount: Mapped[Decimal] = col(Numeric(16, 2), "意向金额", "Amount",
                                  info={"range": (Decimal("0.01"), 100_000_000_000)})
    currency: Mapped[str] = col(String(3), "币种", "Currency", default="USD")
    note: Mapped[str | None] = col(Text, "备注", "Note", nullable=True)
    reported_by_id: Mapped[int | None] = fk("admin_user.id", "填报人", "Reported by", nullable=True)
    created_at = created_at_column()

    organization: Mapped[Organization] = relationship(info={"label": ("单位", "Organisation")})
    sub_delegation: Mapped[SubDelegation] = relationship(info={"label": ("交易分团", "Sub-delegation")})
    reported_by: Mapped[User | None] = relationship(info={"label": ("填报人", "Reported by")})

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_deal_intention_scope", "sub_delegation_id"),
    )
