"""The edition's entry days (入场日期): the person form ticks them, the person list filters by them.

ExpoEdition.entry_days lists them as comma-separated dates (ISO, or month-day in the edition's year);
an edition that lists none enters every day from opening to closing. Person.entry_days stores the
chosen days as comma-separated ISO dates.
"""
from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape
from sqlalchemy import Select, select
from wtforms import Field
from wtforms.validators import ValidationError

from models import ExpoEdition
from views.i18n import english, pick

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
MAX_DAYS = 31  # an edition's span worth listing day by day


def parse_day(text: str | None, year: int | None = None) -> date | None:
    """An ISO date ('2025-11-05'), or a month-day ('11-05') in `year`; None for anything else."""
    text = (text or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if year is None:
        return None
    try:
        return date.fromisoformat(f"{year}-{text}")
    except ValueError:
        return None


def edition_days(entry_days: str | None, start: date | None, end: date | None) -> list[date]:
    """The days the edition lists, or every day from its opening to its closing."""
    year = start.year if start else None
    days = sorted({d for d in (parse_day(part, year) for part in (entry_days or "").split(",")) if d})
    if days or not (start and end):
        return days
    return [start + timedelta(days=n) for n in range(min((end - start).days + 1, MAX_DAYS))]


def current_edition() -> Select:
    """The current edition (the newest one marked current), as a SELECT of its entry days and dates."""
    return (select(ExpoEdition.entry_days, ExpoEdition.start_date, ExpoEdition.end_date)
            .where(ExpoEdition.is_current.is_(True)).order_by(ExpoEdition.number.desc()).limit(1))


def current_edition_days(session) -> list[date]:
    """The current edition's entry days (one query; for forms, which have no statement budget)."""
    row = session.execute(current_edition()).first()
    return edition_days(*row) if row else []


def edition_day_figures() -> dict:
    """The current edition's days as scalar SQL, for a list page that reads them with its count."""
    edition = current_edition().subquery()
    return {name: select(edition.c[name]).correlate(None).scalar_subquery()
            for name in ("entry_days", "start_date", "end_date")}


def day_label(day: date) -> str:
    """'11月5日（周三）' or 'Wed 5 Nov'."""
    if english():
        return day.strftime("%a %-d %b")
    return f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）"


class DayCheckboxes:
    """One inline checkbox per day of the edition."""

    def __call__(self, field, **kwargs):
        picked = set(field.picked)
        boxes = []
        for n, (value, label) in enumerate(field.choices()):
            box_id = f"{field.id}-{n}"
            checked = " checked" if value in picked else ""
            boxes.append(f'<div class="custom-control custom-checkbox custom-control-inline">'
                         f'<input type="checkbox" class="custom-control-input" id="{escape(box_id)}"'
                         f' name="{escape(field.name)}" value="{escape(value)}"{checked}>'
                         f'<label class="custom-control-label" for="{escape(box_id)}">{escape(label)}</label></div>')
        if not boxes:
            none = pick(("当前届次未设置入场日期", "The edition lists no entry days"))
            return Markup(f'<div class="text-muted">{escape(none)}</div>')
        return Markup(f'<div id="{escape(field.id)}" class="pt-1">{"".join(boxes)}</div>')


class EntryDaysField(Field):
    """Entry days ticked from the edition's days; its data is what Person.entry_days stores."""

    widget = DayCheckboxes()

    def __init__(self, label=None, validators=None, days=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.days = days or (lambda: [])  # a callable: the edition's days, read when the form is shown

    def process_data(self, value):
        self.data = value or None

    def process_formdata(self, valuelist):
        self.data = ",".join(sorted({v for v in valuelist if v})) or None

    @property
    def picked(self) -> list[str]:
        return [d for d in (self.data or "").split(",") if d]

    def choices(self) -> list[tuple[str, str]]:
        """(ISO date, label) for each edition day, and for any stored day outside them (so none is lost)."""
        if not hasattr(self, "_choices"):
            shown = {d.isoformat(): day_label(d) for d in self.days()}
            for value in [d for d in (self.object_data or "").split(",") if d]:
                shown.setdefault(value, value)
            self._choices = sorted(shown.items())
        return self._choices

    def pre_validate(self, form):
        allowed = {value for value, _ in self.choices()}
        unknown = [d for d in self.picked if d not in allowed]
        if unknown:
            raise ValidationError(pick((f"「{unknown[0]}」不是本届的入场日期", f"{unknown[0]} is not an entry day")))
