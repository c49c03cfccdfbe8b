"""List filters beyond Flask-Admin's generated ones: deleted rows on request, entry day, age range, badge state,
organisation by name. Each is one SQL condition on the list's own table (no join), so the row query can carry
the workflow's guard columns and the count query its figures unchanged.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_login import current_user
from sqlalchemy import and_, exists, select, true

from models import Organization, Person, PersonState
from models.scope import sees_everything
from views.common import clean_text, escape_like
from views.edition_days import day_label, edition_days, parse_day
from views.i18n import tr
from views.search import contains

SHANGHAI = ZoneInfo("Asia/Shanghai")


def deleted_rows(model):
    """SQL true for rows that are, or belong to, a deleted organisation; None for models without a soft delete."""
    if model is Organization:
        return Organization.deleted_at.is_not(None)
    if model is Person:
        return exists().where(Organization.id == Person.organization_id, Organization.deleted_at.is_not(None))
    return None


class ChoiceFilter(BaseSQLAFilter):
    """A filter with fixed choices, each a condition: choices = {value: ((zh, en), condition())}."""

    choices: dict = {}
    verb = ("为", "is")

    def __init__(self, column, name):
        super().__init__(column, name, options=lambda: [(v, tr(label)) for v, (label, _) in self.choices.items()])

    def validate(self, value) -> bool:
        return value in self.choices

    def apply(self, query, value, alias=None):
        return query.filter(self.choices[value][1]())

    def operation(self):
        return tr(self.verb)


class DeletedFilter(ChoiceFilter):
    """「已删除」: deleted organisations (and their persons) stay out of the list until this filter asks for them."""

    def __init__(self, model, name):
        self.hidden = lambda: deleted_rows(model)
        self.choices = {"only": (("仅显示已删除", "deleted only"), self.hidden),
                        "also": (("同时显示已删除", "deleted too"), true)}
        column = Organization.deleted_at if model is Organization else Person.organization_id
        super().__init__(column, name)

    def refused(self) -> bool:
        """Sub-delegation admins never see deleted organisations (models.scope.visible): nothing to ask for."""
        return not sees_everything(current_user)


def age_bounds(low: int | None, high: int | None, today: date) -> list:
    """Conditions on Person.birth_date for an age (in whole years on `today`) between low and high."""
    conditions = []
    if low is not None:
        conditions.append(Person.birth_date <= years_before(today, low))
    if high is not None:
        conditions.append(Person.birth_date > years_before(today, high + 1))
    return conditions


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


AGE_RANGES = {"0-17": (None, 17), "18-30": (18, 30), "31-45": (31, 45), "46-60": (46, 60), "61-": (61, None)}


class AgeRangeFilter(ChoiceFilter):
    """Age today (Asia/Shanghai) from the birth date; index-friendly bounds on the date, no per-row arithmetic."""

    verb = ("在", "in")

    def __init__(self, name):
        self.choices = {key: ((self._label(low, high, "zh"), self._label(low, high, "en")),
                              lambda low=low, high=high: and_(*age_bounds(low, high, datetime.now(SHANGHAI).date())))
                        for key, (low, high) in AGE_RANGES.items()}
        super().__init__(Person.birth_date, name)

    @staticmethod
    def _label(low, high, lang) -> str:
        if low is None:
            return f"{high + 1}岁以下" if lang == "zh" else f"under {high + 1}"
        if high is None:
            return f"{low}岁及以上" if lang == "zh" else f"{low} and over"
        return f"{low}–{high}岁" if lang == "zh" else f"{low}–{high}"


class BadgeStateFilter(ChoiceFilter):
    """证件状态: not produced yet, produced (not issued), issued, or invalidated by a label upgrade and not remade."""

    def __init__(self, name):
        self.choices = {
            "none": (("未制证", "not produced"), lambda: Person.badge_number.is_(None)),
            "produced": (("已制证未发放", "produced"), lambda: Person.state == PersonState.BADGE_PRODUCED.value),
            "issued": (("已发放", "issued"), lambda: Person.state == PersonState.BADGE_ISSUED.value),
            "remake": (("原证件已失效，待重新制证", "invalidated, to be remade"),
                       lambda: and_(Person.invalid_badge_number.is_not(None), Person.badge_number.is_(None))),
        }
        super().__init__(Person.badge_number, name)


class EntryDayFilter(BaseSQLAFilter):
    """Persons entering on a day of the edition; the days are read with the list's count (views/listing.py)."""

    def __init__(self, name):
        super().__init__(Person.entry_days, name)

    def validate(self, value) -> bool:
        return parse_day(value) is not None

    def clean(self, value):
        return parse_day(value).isoformat()

    def apply(self, query, value, alias=None):
        # entry_days holds comma-separated ISO dates: a day matches as a whole item, never inside another.
        return query.filter(("," + Person.entry_days + ",").like("%," + escape_like(value) + ",%", escape="\\"))

    def operation(self):
        return tr(("包含", "includes"))

    def options_now(self, view) -> list[tuple[str, str]]:
        """The edition's days, as the list read them with its count (none without a count: a date is typed)."""
        figures = view.figures()
        days = edition_days(figures.get("entry_days"), figures.get("start_date"), figures.get("end_date"))
        return [(d.isoformat(), day_label(d)) for d in days]


class OrganizationNameFilter(BaseSQLAFilter):
    """Persons of organisations whose name contains the text: a subquery (trigram-indexed on PostgreSQL)."""

    def __init__(self, name):
        super().__init__(Person.organization_id, name)

    def clean(self, value):
        return clean_text(value).strip()

    def apply(self, query, value, alias=None):
        names = select(Organization.id).where(contains(Organization.name, value, query.session.get_bind().dialect.name))
        return query.filter(Person.organization_id.in_(names))

    def operation(self):
        return tr(("名称包含", "name contains"))


def person_filters() -> list:
    """The person list's filters besides state, label, co-payment, region type, pickup and dates."""
    from flask_admin.contrib.sqla.filters import BooleanEqualFilter, IntEqualFilter

    return [BooleanEqualFilter(Person.is_reuse, tr(("证件复用", "Badge reuse"))),
            EntryDayFilter(tr(("入场日期", "Entry day"))),
            OrganizationNameFilter(tr(("单位", "Organisation"))),
            IntEqualFilter(Person.organization_id, tr(("单位编号", "Organisation ID"))),
            BadgeStateFilter(tr(("证件状态", "Badge state"))),
            AgeRangeFilter(tr(("年龄", "Age"))),
            DeletedFilter(Person, tr(("所属单位已删除", "Organisation deleted")))]


def organization_filters() -> list:
    return [DeletedFilter(Organization, tr(("已删除", "Deleted")))]
