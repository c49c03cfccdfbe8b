"""Faker zh_CN values for demo organisations, delivery addresses and persons, with valid USCCs and resident IDs.

Only what a registrant types in: states, labels and decisions come later from the workflow operations.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from functools import lru_cache

from faker import Faker
from stdnum import numdb
from stdnum.cn import ric, uscc

from admin_app.seed.tree import CITIES, Member
from models import ExpoEdition, Gender, IdType, OrgCategory, RegionType, SubDelegationKind

# Domain vocabulary from the seed documents; names, phones and addresses come from Faker.
INDUSTRIES = ("智能及高端装备", "消费电子及家电", "汽车", "服装服饰及日用消费品", "食品及农产品", "医疗器械及医药保健",
              "新兴技术", "服务外包", "创新设计", "文化教育", "旅游服务")
AREAS = ("食品及农产品展区", "汽车展区", "技术装备展区", "消费品展区", "医疗器械及医药保健展区", "服务贸易展区")
PRODUCTS = ("工业机器人", "数控机床", "半导体设备", "医疗影像设备", "体外诊断试剂", "进口乳制品", "冷冻肉类", "葡萄酒",
            "咖啡及可可制品", "化妆品", "母婴用品", "高端家电", "新能源汽车零部件", "跨境物流服务", "工业设计服务")
POSITIONS = ("董事长", "总经理", "副总经理", "采购总监", "采购经理", "采购专员", "部门经理", "主任", "业务主管")
DEPARTMENTS = ("采购部", "进出口部", "市场部", "办公室", "供应链管理部", "总经理办公室")
AGENCIES = ("商务局", "工业和信息化局", "科学技术局", "农业农村局", "卫生健康局")
INSTITUTIONS = ("人民医院", "职业技术学院", "检验检测中心", "科学研究院", "质量计量监督检测所")
ASSOCIATIONS = ("进出口商会", "电子商务协会", "食品行业协会", "家电商会", "医药行业协会", "外商投资企业协会")
# Where mainland visitors from outside Guangdong come from (city prefixes of GB/T 2260 codes).
OTHER_PROVINCE_CITIES = ("4301", "4501", "3601", "4201", "5101", "1101", "3101", "3501")
AREA_CANDIDATES = 8
USCC_PREFIX = {OrgCategory.ENTERPRISE: "91", OrgCategory.SOCIAL_ORGANISATION: "51",
               OrgCategory.PUBLIC_INSTITUTION: "12", OrgCategory.GOVERNMENT_AGENCY: "11"}
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
CATEGORY_WEIGHTS = {OrgCategory.ENTERPRISE: 80, OrgCategory.SOCIAL_ORGANISATION: 5,
                    OrgCategory.PUBLIC_INSTITUTION: 5, OrgCategory.GOVERNMENT_AGENCY: 3,
                    OrgCategory.OVERSEAS_ENTERPRISE: 4, OrgCategory.OVERSEAS_GOVERNMENT: 1,
                    OrgCategory.OVERSEAS_SOCIAL_ORGANISATION: 1, OrgCategory.OVERSEAS_OTHER: 1}


class Values:
    """Random streams (one seed) and the USCCs and ID numbers taken so far, so every value is unique."""

    def __init__(self, edition: ExpoEdition, seed: int, usccs: set[str], id_numbers: set[tuple[str, str]]):
        self.edition = edition
        self.rng = random.Random(seed)
        self.fake, self.fake_en = Faker("zh_CN"), Faker("en_US")
        self.fake.seed_instance(seed)
        self.fake_en.seed_instance(seed)
        self.usccs, self.id_numbers = usccs, id_numbers

    # -- organisations -------------------------------------------------------------------------

    def organization(self, member: Member) -> tuple[dict, Member]:
        """What a registrant enters for an organisation of this member unit, and the city it is in."""
        rng, fake = self.rng, self.fake
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        city = member if member.kind is SubDelegationKind.CITY else rng.choice(CITIES)
        name, region = self.org_name(category, city)
        values = {
            "name": name, "uscc": None if category.is_overseas else self.uscc(category, city),
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
            "vip_quota": rng.choices((0, 1, 2, 3), (55, 25, 12, 8))[0],
            "staff_quota": rng.choices((0, 1, 2, 3, 5, 8), (35, 20, 20, 10, 10, 5))[0],
            "prior_edition": rng.random() < 0.3,
        }
        return values, city

    def addresses(self, city: Member) -> list[dict]:
        """None to five delivery addresses, the first the default."""
        count = self.rng.choices((0, 1, 2, 3, 4, 5), (40, 30, 15, 8, 4, 3))[0]
        return [{"position": p, "recipient": self.fake.name(), "mobile": self.fake.phone_number(),
                 "address": self.street(city), "is_default": p == 1} for p in range(1, count + 1)]

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

    def person(self, category: OrgCategory, city: Member, addresses: int) -> tuple[dict, int | None]:
        """What a registrant enters for a person, and the position of the delivery address chosen (or None)."""
        rng, fake = self.rng, self.fake
        gender = rng.choice((Gender.MALE, Gender.FEMALE))
        region, id_type, id_number, birth, name = self.identity(category, city, gender)
        position = rng.randint(1, addresses) if addresses and rng.random() < 0.7 else None
        values = {
            "name": name, "gender": gender, "region_type": region, "id_type": id_type, "id_number": id_number,
            "birth_date": birth, "mobile": fake.phone_number(), "email": fake.email(),
            "position": rng.choice(POSITIONS), "photo": f"photos/demo/{fake.uuid4()}.jpg",
            "entry_days": self.entry_days(),
        }
        return values, position

    def prior_badge(self) -> str:
        """A badge number of the previous edition, for a badge-reuse application."""
        return f"E{self.edition.number - 1}-{self.rng.randrange(10**6, 10**7)}"

    def identity(self, category: OrgCategory, city: Member, gender: Gender):
        """Region type, ID type and unique number, birth date and name, as the organisation makes likely."""
        rng = self.rng
        if category.is_overseas:
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
                id_type, number = IdType.RESIDENT_ID, self.resident_id(city, birth, male)
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

    def resident_id(self, city: Member, birth: date, male: bool) -> str:
        """An 18-digit ID with an area code stdnum accepts for the birth year, mostly from the organisation's city."""
        prefix = city.region[:4] if self.rng.random() < 0.85 else self.rng.choice(OTHER_PROVINCE_CITIES)
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
