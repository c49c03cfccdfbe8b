"""Demo and benchmark data: the Guangdong delegation tree and Faker-generated organisations and persons.

Pure functions over a SQLAlchemy Session (no Flask): they flush, never commit. Generated rows go in
with bulk Core inserts, so `seed_demo(session, orgs=2000, persons=10000)` takes seconds.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from faker import Faker
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from stdnum import numdb
from stdnum.cn import ric, uscc

from models import (CopayDecision, Delegation, ExpoEdition, Gender, IdType, Label, OrgAddress, OrgCategory,
                    Organization, OrgState, Person, PersonState, Pickup, RegionType, SubDelegation,
                    SubDelegationKind)
from models.ids import id_in
from models.registration.quotas import RELEASED_STATES, sub_delegation_usage
from models.registration.person_workflow import badge_number

DELEGATION_CODE, DELEGATION_NAME = "guangdong", "广东交易团"
TREE_SEED = 2020


@dataclass(frozen=True)
class Member:
    """A member unit of the recruitment table (招商任务分解表), with its region and telephone area codes."""

    seq: int
    code: str
    name: str
    kind: SubDelegationKind
    target: int
    region: str
    phone_area: str


_D, _C = SubDelegationKind.DEPARTMENT, SubDelegationKind.CITY
DELEGATION_TREE = (
    Member(1, "sheng-gongxinting", "省工业和信息化厅", _D, 30, "440000", "020"),
    Member(2, "sheng-kejiting", "省科技厅", _D, 30, "440000", "020"),
    Member(3, "sheng-nongyenongcunting", "省农业农村厅", _D, 30, "440000", "020"),
    Member(4, "sheng-guoziwei", "省国资委", _D, 100, "440000", "020"),
    Member(5, "sheng-maocuhui", "省贸促会", _D, 100, "440000", "020"),
    Member(6, "sheng-gongshanglian", "省工商联", _D, 60, "440000", "020"),
    Member(7, "guangzhou", "广州市", _C, 400, "440100", "020"),
    Member(8, "zhuhai", "珠海市", _C, 360, "440400", "0756"),
    Member(9, "shantou", "汕头市", _C, 160, "440500", "0754"),
    Member(10, "foshan", "佛山市", _C, 360, "440600", "0757"),
    Member(11, "shaoguan", "韶关市", _C, 80, "440200", "0751"),
    Member(12, "heyuan", "河源市", _C, 80, "441600", "0762"),
    Member(13, "meizhou", "梅州市", _C, 80, "441400", "0753"),
    Member(14, "huizhou", "惠州市", _C, 200, "441300", "0752"),
    Member(15, "shanwei", "汕尾市", _C, 80, "441500", "0660"),
    Member(16, "dongguan", "东莞市", _C, 360, "441900", "0769"),
    Member(17, "zhongshan", "中山市", _C, 200, "442000", "0760"),
    Member(18, "jiangmen", "江门市", _C, 150, "440700", "0750"),
    Member(19, "yangjiang", "阳江市", _C, 80, "441700", "0662"),
    Member(20, "zhanjiang", "湛江市", _C, 80, "440800", "0759"),
    Member(21, "maoming", "茂名市", _C, 80, "440900", "0668"),
    Member(22, "zhaoqing", "肇庆市", _C, 80, "441200", "0758"),
    Member(23, "qingyuan", "清远市", _C, 80, "441800", "0763"),
    Member(24, "chaozhou", "潮州市", _C, 80, "445100", "0768"),
    Member(25, "jieyang", "揭阳市", _C, 80, "445200", "0663"),
    Member(26, "yunfu", "云浮市", _C, 80, "445300", "0766"),
)
CITIES = tuple(m for m in DELEGATION_TREE if m.kind is _C)

EDITION = dict(number=8, name="第八届中国国际进口博览会", start_date=date(2025, 11, 5), end_date=date(2025, 11, 10),
               entry_days=",".join(f"2025-11-{d:02d}" for d in range(5, 11)), fee_per_label=Decimal("200.00"),
               reuse_fee_percent=50, transfer_deadline=date(2025, 10, 12), qr_deadline=date(2025, 10, 15),
               b2b_deadline=date(2025, 10, 15), is_current=True)

# Domain vocabulary from the seed documents; names, phones and addresses come from Faker.
INDUSTRIES = ("智能及高端装备", "消费电子及家电", "汽车", "服装服饰及日用消费品", "食品及农产品", "医疗器械及医药保健",
              "新兴技术", "服务外包", "创新设计", "文化教育", "旅游服务")
AREAS = ("食品及农产品展区", "汽车展区", "技术装备展区", "消费品展区", "医疗器械及医药保健展区", "服务贸易展区")
PRODUCTS = ("工业机器人", "数控机床", "半导体设备", "医疗影像设备", "体外诊断试剂", "进口乳制品", "冷冻肉类", "葡萄酒",
            "咖啡及可可制品", "化妆品", "母婴用品", "高端家电", "新能源汽车零部件", "跨境物流服务", "工业设计服务")
OFFICIAL_POSITIONS = ("处长", "副处长", "科长", "副科长", "一级主任科员", "二级主任科员")
POSITIONS = ("董事长", "总经理", "副总经理", "采购总监", "采购经理", "采购专员", "部门经理", "主任", "业务主管")
DEPARTMENTS = ("采购部", "进出口部", "市场部", "办公室", "供应链管理部", "总经理办公室")
AGENCIES = ("商务局", "工业和信息化局", "科学技术局", "农业农村局", "卫生健康局")
INSTITUTIONS = ("人民医院", "职业技术学院", "检验检测中心", "科学研究院", "质量计量监督检测所")
ASSOCIATIONS = ("进出口商会", "电子商务协会", "食品行业协会", "家电商会", "医药行业协会", "外商投资企业协会")
RETURN_REASONS = ("营业执照图片不清晰，请重新上传", "采购意向填写过于简单，请补充具体产品和金额",
                  "联系人手机号码有误，请核实", "单位名称与营业执照不一致")
REJECT_REASONS = ("非本分团属地单位，且无采购需求", "单位资质文件无法核实", "重复报名（已在其他分团报名）")
REVIEW_FAILURES = ("公安背审未通过", "身份信息与公安系统登记不一致", "证件照片不符合要求")
# Where mainland visitors from outside Guangdong come from (city prefixes of GB/T 2260 codes).
OTHER_PROVINCE_CITIES = ("4301", "4501", "3601", "4201", "5101", "1101", "3101", "3501")
AREA_CANDIDATES = 8
USCC_PREFIX = {OrgCategory.ENTERPRISE: "91", OrgCategory.SOCIAL_ORGANISATION: "51",
               OrgCategory.PUBLIC_INSTITUTION: "12", OrgCategory.GOVERNMENT_AGENCY: "11"}
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

ORG_STATE_WEIGHTS = {OrgState.DRAFT: 8, OrgState.SUBMITTED: 14, OrgState.FIRST_APPROVED: 14, OrgState.APPROVED: 50,
                     OrgState.RETURNED: 9, OrgState.REJECTED: 5}
CATEGORY_WEIGHTS = {OrgCategory.ENTERPRISE: 80, OrgCategory.SOCIAL_ORGANISATION: 5,
                    OrgCategory.PUBLIC_INSTITUTION: 5, OrgCategory.GOVERNMENT_AGENCY: 3,
                    OrgCategory.OVERSEAS_ENTERPRISE: 4, OrgCategory.OVERSEAS_GOVERNMENT: 1,
                    OrgCategory.OVERSEAS_SOCIAL_ORGANISATION: 1, OrgCategory.OVERSEAS_OTHER: 1}
P = PersonState
PERSON_STATE_WEIGHTS = {P.SAVED: 6, P.PENDING_LOCK: 4, P.PENDING_CONFIRMATION: 10, P.PENDING_PAYMENT: 8,
                        P.PENDING_REVIEW: 12, P.APPROVED: 18, P.REVIEW_FAILED: 3, P.BADGE_PRODUCED: 14,
                        P.BADGE_ISSUED: 18, P.CANCELLED: 5}
# Persons move on only as far as their organisation's registration allows.
PERSON_STATES_BY_ORG = {
    OrgState.DRAFT: (P.SAVED,),
    OrgState.RETURNED: (P.SAVED, P.PENDING_LOCK, P.PENDING_CONFIRMATION, P.CANCELLED),
    OrgState.REJECTED: (P.SAVED, P.CANCELLED),
    OrgState.SUBMITTED: (P.SAVED, P.PENDING_LOCK, P.PENDING_CONFIRMATION, P.PENDING_PAYMENT, P.PENDING_REVIEW,
                         P.CANCELLED),
    OrgState.APPROVED: tuple(PersonState),
}
PERSON_STATES_BY_ORG[OrgState.FIRST_APPROVED] = PERSON_STATES_BY_ORG[OrgState.SUBMITTED]
PERSONS_PER_ORG_STATE = {OrgState.DRAFT: 0.3, OrgState.RETURNED: 0.6, OrgState.REJECTED: 0.3,
                         OrgState.SUBMITTED: 1, OrgState.FIRST_APPROVED: 1, OrgState.APPROVED: 2}
LABEL_WEIGHTS = {Label.PROFESSIONAL: 82, Label.STAFF: 11, Label.VIP: 7}
NOT_YET_DECIDED = (P.SAVED, P.PENDING_CONFIRMATION)
BADGED = (P.BADGE_PRODUCED.value, P.BADGE_ISSUED.value)
REGISTRATION_OPENS = datetime(2025, 7, 1, tzinfo=timezone.utc)
REGISTRATION_DAYS = 100


def sub_delegation_allowances(target: int) -> dict:
    """VIP/staff quotas and co-payment budget of a sub-delegation, proportional to its recruitment target."""
    return {"vip_quota": max(3, target // 10), "staff_quota": max(6, target // 4),
            "copay_budget": Decimal(target * 150)}


def ensure_edition(session: Session) -> ExpoEdition:
    """The current edition; the eighth (2025) is created or made current if there is none."""
    edition = session.scalar(select(ExpoEdition).where(ExpoEdition.is_current.is_(True))
                             .order_by(ExpoEdition.number.desc()).limit(1))
    if edition is not None:
        return edition
    edition = session.scalar(select(ExpoEdition).where(ExpoEdition.number == EDITION["number"]))
    if edition is None:
        edition = ExpoEdition(**EDITION)
        session.add(edition)
    edition.is_current = True
    session.flush()
    return edition


def seed_delegation_tree(session: Session) -> dict[str, SubDelegation]:
    """The delegation and its 26 sub-delegations by code; missing ones are created, existing ones left alone."""
    delegation = session.scalar(select(Delegation).where(Delegation.code == DELEGATION_CODE))
    if delegation is None:
        delegation = Delegation(code=DELEGATION_CODE, name=DELEGATION_NAME)
        session.add(delegation)
    subs = {s.code: s for s in session.scalars(
        select(SubDelegation).where(SubDelegation.code.in_([m.code for m in DELEGATION_TREE])))}
    fake = Faker("zh_CN")
    fake.seed_instance(TREE_SEED)
    for m in DELEGATION_TREE:
        contact = {"contact_name": fake.name(), "contact_position": fake.random_element(OFFICIAL_POSITIONS),
                   "office_phone": f"{m.phone_area}-{fake.numerify('8#######')}", "mobile": fake.phone_number(),
                   "fax": f"{m.phone_area}-{fake.numerify('8#######')}"}
        if m.code not in subs:
            subs[m.code] = SubDelegation(delegation=delegation, seq=m.seq, code=m.code, name=m.name, kind=m.kind,
                                         recruitment_target=m.target, **sub_delegation_allowances(m.target),
                                         **contact)
            session.add(subs[m.code])
    session.flush()
    return {m.code: subs[m.code] for m in DELEGATION_TREE}


def seed_demo(session: Session, *, orgs: int = 300, persons: int = 1500, seed: int = 0) -> dict:
    """Organisations and persons over every sub-delegation, state and label, within quotas and budgets.

    Deterministic for a seed; rows that already exist (USCCs, ID numbers, used quotas) are respected,
    so it can run again on a seeded database. With 26 organisations or more every sub-delegation gets
    some; values not generated yet are preferred, so a few hundred rows show every state and label.
    """
    if persons and not orgs:
        raise ValueError("persons need at least one organisation")
    edition = ensure_edition(session)
    subs = seed_delegation_tree(session)
    return _DemoBuilder(session, edition, subs, seed).run(orgs, persons)


@dataclass
class _Org:
    """An organisation being generated: its row, where it is, what quota it has left, its addresses."""

    row: dict
    city: Member
    left: dict
    addresses: list[dict] = field(default_factory=list)
    id: int | None = None


class _DemoBuilder:
    """One seed_demo run: random streams, uniqueness sets and quota bookkeeping."""

    def __init__(self, session: Session, edition: ExpoEdition, subs: dict[str, SubDelegation], seed: int):
        self.session, self.edition, self.subs = session, edition, subs
        self.rng = random.Random(seed)
        self.fake, self.fake_en = Faker("zh_CN"), Faker("en_US")
        self.fake.seed_instance(seed)
        self.fake_en.seed_instance(seed)
        self.usccs = set(session.scalars(select(Organization.uscc).where(
            Organization.edition_id == edition.id, Organization.uscc.is_not(None))))
        self.id_numbers = {(IdType(t).value, n) for t, n in session.execute(
            select(Person.id_type, Person.id_number).where(Person.edition_id == edition.id))}
        usage = sub_delegation_usage(session, [s.id for s in subs.values()])
        self.sub_left = {sid: {"vip": u["vip"][1] - u["vip"][0], "staff": u["staff"][1] - u["staff"][0],
                               "copay": Decimal(str(u["copay"][1])) - Decimal(str(u["copay"][0]))}
                         for sid, u in usage.items()}
        self.seen: set = set()

    def run(self, n_orgs: int, n_persons: int) -> dict:
        orgs = self.organizations(n_orgs)
        people = self.persons(orgs, n_persons)
        org_ids = self.insert(Organization, [o.row for o in orgs])
        for org, org_id in zip(orgs, org_ids):
            org.id = org_id
            for address in org.addresses:
                address["organization_id"] = org_id
        addresses = [a for o in orgs for a in o.addresses]
        for address, address_id in zip(addresses, self.insert(OrgAddress, addresses)):
            address["id"] = address_id
        rows = [dict(row, organization_id=org.id, address_id=org.addresses[position - 1]["id"] if position else None)
                for row, org, position in people]
        if rows:
            self.session.execute(insert(Person.__table__), rows)
            # The badge number is the one the badge_produced transition writes, which needs the row id.
            self.session.execute(update(Person).where(id_in(Person.organization_id, org_ids),
                                                      Person.state.in_(BADGED), Person.badge_number.is_(None))
                                 .values(badge_number(Person, {}, actor=None, now=None))
                                 .execution_options(synchronize_session=False))
        self.session.flush()
        return {"edition": self.edition.number, "organizations": len(orgs), "addresses": len(addresses),
                "persons": len(rows), "deleted_organizations": sum(o.row["deleted_at"] is not None for o in orgs),
                "org_states": dict(Counter(o.row["state"].value for o in orgs)),
                "person_states": dict(Counter(r["state"].value for r in rows)),
                "labels": dict(Counter(r["label"].value for r in rows)),
                "copay": dict(Counter(r["copay"].value for r in rows))}

    def insert(self, model, rows: list[dict]) -> list[int]:
        """Insert rows in one executemany and return their ids in order."""
        if not rows:
            return []
        # Core table insert: the ORM bulk path splits rows by their None pattern and merges results quadratically.
        table = model.__table__
        return self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                    rows).scalars().all()

    # -- choices -------------------------------------------------------------------------------

    def pick(self, weights: dict, allowed=None):
        """A weighted choice among the allowed options, preferring one not generated yet."""
        options = [o for o in weights if allowed is None or o in allowed]
        fresh = [o for o in options if (type(o), o) not in self.seen]
        return fresh[0] if fresh else self.rng.choices(options, weights=[weights[o] for o in options])[0]

    def saw(self, value):
        """Record a generated value; keyed by type, since OrgState.APPROVED == PersonState.APPROVED."""
        self.seen.add((type(value), value))
        return value

    def moment(self, after: datetime | None = None, within_days: int = REGISTRATION_DAYS) -> datetime:
        start = after or REGISTRATION_OPENS
        return start + timedelta(seconds=self.rng.randrange(within_days * 86400))

    def fee(self, label: Label, reuse: bool) -> Decimal:
        """The badge fee as models.quotas.fee_expression computes it."""
        if label.is_free:
            return Decimal("0.00")
        fee = Decimal(self.edition.fee_per_label)
        if reuse:
            fee = fee * self.edition.reuse_fee_percent / 100
        return fee.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    # -- organisations -------------------------------------------------------------------------

    def organizations(self, n: int) -> list[_Org]:
        members = [m for m, share in zip(DELEGATION_TREE, apportion(n, [m.target for m in DELEGATION_TREE]))
                   for _ in range(share)]
        self.rng.shuffle(members)
        orgs = [self.organization(m) for m in members]
        deleted = self.rng.sample(orgs, max(1, n // 50)) if n >= 10 else []
        for org in deleted:
            org.row["deleted_at"] = self.moment(org.row["created_at"], 20)
        return orgs

    def organization(self, member: Member) -> _Org:
        rng, fake = self.rng, self.fake
        state = self.saw(self.pick(ORG_STATE_WEIGHTS))
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        city = member if member.kind is _C else rng.choice(CITIES)
        created = self.moment()
        vip = rng.choices((0, 1, 2, 3), (55, 25, 12, 8))[0]
        staff = rng.choices((0, 1, 2, 3, 5, 8), (35, 20, 20, 10, 10, 5))[0]
        name, region = self.org_name(category, city)
        uscc_value = None if category.is_overseas else self.uscc(category, city)
        row = {
            "edition_id": self.edition.id, "sub_delegation_id": self.subs[member.code].id, "name": name,
            "uscc": uscc_value, "uscc_recognised": uscc_value is not None and rng.random() < 0.6,
            "category": category, "region": region,
            "referral_code": f"GD{self.edition.number}{member.seq:02d}" if rng.random() < 0.4 else None,
            "contact_name": fake.name(), "contact_mobile": fake.phone_number(), "contact_email": fake.email(),
            "contact_department": rng.choice(DEPARTMENTS), "contact_position": rng.choice(POSITIONS),
            "address": self.street(city) if not category.is_overseas else self.fake_en.address().replace("\n", ", "),
            "industry": rng.choice(INDUSTRIES),
            "purchase_intentions": f"拟采购{'、'.join(rng.sample(PRODUCTS, rng.randint(1, 3)))}，"
                                   f"预计金额约{rng.randrange(10, 2000, 10)}万美元",
            "exhibition_areas": "、".join(rng.sample(AREAS, rng.randint(1, 3))),
            "licence_file": None if category is OrgCategory.GOVERNMENT_AGENCY else f"licences/demo/{fake.uuid4()}.jpg",
            "vip_quota": vip, "staff_quota": staff, "prior_edition": rng.random() < 0.3, "state": state,
            "return_reason": rng.choice(RETURN_REASONS) if state is OrgState.RETURNED else None,
            "reject_reason": rng.choice(REJECT_REASONS) if state is OrgState.REJECTED else None,
            "submitted_at": None if state is OrgState.DRAFT else self.moment(created, 10),
            "deleted_at": None, "created_at": created, "updated_at": created,
        }
        org = _Org(row, city, {"vip": vip, "staff": staff})
        count = rng.choices((0, 1, 2, 3, 4, 5), (40, 30, 15, 8, 4, 3))[0]
        org.addresses = [{"position": p, "recipient": fake.name(), "mobile": fake.phone_number(),
                          "address": self.street(city), "is_default": p == 1} for p in range(1, count + 1)]
        return org

    def org_name(self, category: OrgCategory, city: Member) -> tuple[str, str]:
        rng = self.rng
        if category.is_overseas:
            return self.fake_en.company(), self.fake.country()
        place = city.name
        name = {OrgCategory.ENTERPRISE: lambda: place.removesuffix("市") + self.fake.company(),
                OrgCategory.SOCIAL_ORGANISATION: lambda: place + rng.choice(ASSOCIATIONS),
                OrgCategory.PUBLIC_INSTITUTION: lambda: place + rng.choice(INSTITUTIONS),
                OrgCategory.GOVERNMENT_AGENCY: lambda: place + rng.choice(AGENCIES)}[category]()
        return name, f"广东省{place}"

    def street(self, city: Member) -> str:
        return f"广东省{city.name}{self.fake.street_name()}{self.rng.randint(1, 999)}号"

    def uscc(self, category: OrgCategory, city: Member) -> str:
        """A unique, valid USCC: authority and type, region, organisation code (GB 11714), check digit."""
        while True:
            if self.rng.random() < 0.5:
                code = "MA" + "".join(self.rng.choices(USCC_ALPHABET, k=6))
            else:
                code = "".join(self.rng.choices("0123456789", k=8))
            body = USCC_PREFIX[category] + city.region + code + gb11714_check(code)
            number = body + uscc.calc_check_digit(body)
            if number not in self.usccs:
                self.usccs.add(number)
                return number

    # -- persons -------------------------------------------------------------------------------

    def persons(self, orgs: list[_Org], n: int) -> list[tuple[dict, _Org, int | None]]:
        """Person rows with their organisation and delivery-address position (ids are filled in later)."""
        if not n:
            return []
        weights = [PERSONS_PER_ORG_STATE[o.row["state"]] * self.rng.choice((1, 1, 1, 2, 2, 3, 5, 8)) for o in orgs]
        return [self.person(org) for org in self.rng.choices(orgs, weights=weights, k=n)]

    def person(self, org: _Org) -> tuple[dict, _Org, int | None]:
        rng, fake = self.rng, self.fake
        state = self.saw(self.pick(PERSON_STATE_WEIGHTS, PERSON_STATES_BY_ORG[org.row["state"]]))
        reuse = state is P.PENDING_LOCK or (state not in NOT_YET_DECIDED and org.row["prior_edition"]
                                            and rng.random() < 0.3)
        if reuse:
            org.row["prior_edition"] = True
        label = self.saw(self.label(org, state))
        copay, amount = self.copay(org, state, label, reuse)
        gender = rng.choice((Gender.MALE, Gender.FEMALE))
        region, id_type, id_number, birth, name = self.identity(org, gender)
        position = rng.randint(1, len(org.addresses)) if org.addresses and rng.random() < 0.7 else None
        created = self.moment(org.row["created_at"], 30)
        row = {
            "edition_id": self.edition.id, "sub_delegation_id": org.row["sub_delegation_id"], "name": name,
            "gender": gender, "region_type": region, "id_type": id_type, "id_number": id_number,
            "birth_date": birth, "mobile": fake.phone_number(), "email": fake.email(),
            "position": rng.choice(POSITIONS), "photo": f"photos/demo/{fake.uuid4()}.jpg",
            "entry_days": self.entry_days(), "pickup": Pickup.EXPRESS if position else Pickup.DELEGATION,
            "label": label, "is_reuse": reuse,
            "prior_badge_number": f"E{self.edition.number - 1}-{rng.randrange(10**6, 10**7)}" if reuse else None,
            "badge_number": None, "invalid_badge_number": None, "state": state, "copay": copay,
            "copay_amount": amount,
            "review_note": rng.choice(REVIEW_FAILURES) if state is P.REVIEW_FAILED else None,
            "created_at": created, "updated_at": created,
        }
        return row, org, position

    def label(self, org: _Org, state: PersonState) -> Label:
        """The wanted label if both quotas have room (persons no longer holding a slot take any), else lower."""
        if state is P.PENDING_PAYMENT:
            return Label.PROFESSIONAL  # free labels never wait for payment
        wanted = self.pick(LABEL_WEIGHTS)
        if state.value in RELEASED_STATES:
            return wanted
        sub_left = self.sub_left[org.row["sub_delegation_id"]]
        for label in (Label.VIP, Label.STAFF):
            if label.rank <= wanted.rank and org.left[label.value] > 0 and sub_left[label.value] > 0:
                org.left[label.value] -= 1
                sub_left[label.value] -= 1
                return label
        return Label.PROFESSIONAL

    def copay(self, org: _Org, state: PersonState, label: Label, reuse: bool) -> tuple[CopayDecision, Decimal]:
        """The co-payment decision the person's path implies; confirmed only while the budget holds."""
        U, C, X = CopayDecision.UNDECIDED, CopayDecision.CONFIRMED, CopayDecision.CANCELLED
        zero = Decimal("0.00")
        if state in NOT_YET_DECIDED:
            return U, zero
        if state is P.PENDING_PAYMENT:
            return (self.rng.choice((U, X)) if reuse else X), zero
        if state is P.PENDING_LOCK:
            wish = self.rng.choices((U, C, X), (7, 2, 1))[0]
        elif state is P.CANCELLED:
            wish = self.rng.choices((U, C, X), (4, 3, 3))[0]
        else:
            # Past confirmation: co-paid, or paid themselves / free label (cancelled); reuse skipped the decision.
            wish = C if self.rng.random() < 0.4 else (U if reuse else X)
        fee = self.fee(label, reuse)
        budget = self.sub_left[org.row["sub_delegation_id"]]
        if wish is C and fee > 0 and budget["copay"] >= fee:
            budget["copay"] -= fee
            return C, fee
        if wish is C:
            wish = U if reuse or state in (P.PENDING_LOCK, P.CANCELLED) else X
        return wish, zero

    def identity(self, org: _Org, gender: Gender):
        """Region type, ID type and unique number, birth date and name, as the organisation makes likely."""
        rng = self.rng
        if org.row["category"].is_overseas:
            region = rng.choices((RegionType.OTHER_COUNTRY, RegionType.OVERSEAS_CHINESE,
                                  RegionType.HK_MACAO_TAIWAN), (6, 2, 2))[0]
        else:
            region = rng.choices(tuple(RegionType), (94, 3, 2, 1))[0]
        male = gender is Gender.MALE
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(44 * 365))
        if region is RegionType.OTHER_COUNTRY:
            name = f"{self.fake_en.first_name_male() if male else self.fake_en.first_name_female()} " \
                   f"{self.fake_en.last_name()}"
        else:
            name = self.fake.name_male() if male else self.fake.name_female()
        while True:
            if region is RegionType.MAINLAND:
                id_type, number = IdType.RESIDENT_ID, self.resident_id(org, birth, male)
            elif region is RegionType.HK_MACAO_TAIWAN:
                id_type = rng.choices((IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT), (7, 3))[0]
                digits = "".join(rng.choices("0123456789", k=rng.choice((8, 8, 8, 10))))
                number = (rng.choice("HHHM") + digits) if id_type is IdType.HK_MACAO_PERMIT else digits
            else:
                id_type = IdType.PASSPORT
                prefix = "E" if region is RegionType.OVERSEAS_CHINESE else rng.choice("ACGKNPSX")
                number = prefix + "".join(rng.choices("0123456789", k=8))
            if (id_type.value, number) not in self.id_numbers:
                self.id_numbers.add((id_type.value, number))
                return region, id_type, number, birth, name

    def resident_id(self, org: _Org, birth: date, male: bool) -> str:
        """An 18-digit ID with an area code stdnum accepts for the birth year, mostly from the organisation's city."""
        prefix = org.city.region[:4] if self.rng.random() < 0.85 else self.rng.choice(OTHER_PROVINCE_CITIES)
        codes = area_codes(prefix, birth.year) or area_codes("4401", birth.year)
        sequence = self.rng.randrange(500) * 2 + (1 if male else 0)  # odd for men, even for women
        return with_check_digit(f"{self.rng.choice(codes)}{birth:%Y%m%d}{sequence:03d}")

    def entry_days(self) -> str:
        """All days of the edition, or one to three consecutive ones."""
        first, last = self.edition.start_date, self.edition.end_date
        days = [f"{first + timedelta(days=i):%Y-%m-%d}" for i in range((last - first).days + 1)]
        if self.rng.random() < 0.5:
            return ",".join(days)
        start = self.rng.randrange(len(days))
        return ",".join(days[start:start + self.rng.randint(1, 3)])


def apportion(total: int, weights: list[int]) -> list[int]:
    """Shares of total proportional to weights (largest remainder), each at least 1 when total allows."""
    floor = 1 if total >= len(weights) else 0
    rest = total - floor * len(weights)
    exact = [rest * w / sum(weights) for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[:rest - sum(shares)]:
        shares[i] += 1
    return [floor + s for s in shares]


def gb11714_check(code: str) -> str:
    """The check character of an 8-character organisation code (GB 11714): letters count 10 (A) upwards."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(code, GB11714_WEIGHTS))
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


@lru_cache(maxsize=None)
def area_codes(prefix: str, year: int) -> tuple[str, ...]:
    """Area codes under a 4-digit city prefix that stdnum.cn.ric accepts for people born in `year`."""
    province = next((p for p in numdb.get("cn/loc").prefixes if p[1] == prefix[:2]), None)
    codes = [prefix[:2] + child[1] for child in (province[4] if province else []) if child[1].startswith(prefix[2:])]
    # A spread of AREA_CANDIDATES codes per city: each stdnum check costs ~0.1 ms, and all years get asked.
    candidates = codes[::max(1, len(codes) // AREA_CANDIDATES)]
    return tuple(code for code in candidates if ric.is_valid(with_check_digit(f"{code}{year}0101001")))


def with_check_digit(body: str) -> str:
    """A 17-digit resident ID body completed with its check digit."""
    return body + ric.calc_check_digit(body + "0")
