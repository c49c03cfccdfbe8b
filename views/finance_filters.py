"""The filters finance uses on orders, payments, invoices and refunds: sub-delegation, organisation, amount range.

Payments, invoices and refunds hang on an order: their sub-delegation and organisation filters are one
subquery on the order (no join), so the list's count and guard columns stay one statement each.
"""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FloatGreaterFilter, FloatSmallerFilter
from flask_login import current_user
from sqlalchemy import String, cast, func, select

from models import Order, Organization, SubDelegation, visible
from views.common import clean_text
from views.i18n import tr
from views.search import contains


SEPARATOR = "\x1f"  # the unit separator: no name holds it


def names_figure(dialect: str):
    """Scalar SQL: 'seq<US>id<US>name' of each sub-delegation the user may see, one per line.

    Read with the list's count, so the filter's options cost no statement of their own (three per page)."""
    item = func.concat(cast(SubDelegation.seq, String), SEPARATOR, cast(SubDelegation.id, String), SEPARATOR,
                       SubDelegation.name) if dialect == "postgresql" else (
        cast(SubDelegation.seq, String) + SEPARATOR + cast(SubDelegation.id, String) + SEPARATOR + SubDelegation.name)
    aggregate = func.string_agg(item, "\n") if dialect == "postgresql" else func.group_concat(item, "\n")
    return select(aggregate).where(visible(current_user, SubDelegation)).scalar_subquery()


def parse_names(text: str | None) -> list[tuple[str, str]]:
    """(id, name) options in the delegation's order, from names_figure's text."""
    rows = [line.split(SEPARATOR) for line in (text or "").split("\n") if line]
    return [(i, name) for _, i, name in sorted(rows, key=lambda r: (int(r[0] or 0), int(r[1])))]


def order_column(model):
    """The column naming the row's order: the order's own id, or the row's order_id."""
    return model.id if model is Order else model.order_id


class SubDelegationOfOrder(BaseSQLAFilter):
    """Rows whose order belongs to a sub-delegation the user may see, chosen by name."""

    def __init__(self, model, name):
        self.model = model
        super().__init__(order_column(model), name)  # options are read per request (options_now)

    def options_now(self, view):
        """The sub-delegations the user may see, as the list read them with its count (views/finance.py)."""
        return parse_names(view.figures().get("sub_delegations"))

    def validate(self, value) -> bool:
        return str(value).isdigit() and len(str(value)) <= 9  # an id, never an overflow

    def apply(self, query, value, alias=None):
        if self.model is Order:
            return query.filter(Order.sub_delegation_id == int(value))
        return query.filter(self.model.order_id.in_(select(Order.id).where(Order.sub_delegation_id == int(value))))

    def operation(self):
        return tr(("为", "is"))


class OrganizationOfOrder(BaseSQLAFilter):
    """Rows whose order's organisation name contains the text (trigram-indexed on PostgreSQL)."""

    def __init__(self, model, name):
        self.model = model
        super().__init__(order_column(model), name)

    def clean(self, value):
        return clean_text(value).strip()

    def apply(self, query, value, alias=None):
        dialect = query.session.get_bind().dialect.name
        organisations = select(Organization.id).where(contains(Organization.name, value, dialect))
        if self.model is Order:
            return query.filter(Order.organization_id.in_(organisations))
        orders = select(Order.id).where(Order.organization_id.in_(organisations))
        return query.filter(self.model.order_id.in_(orders))

    def operation(self):
        return tr(("名称包含", "name contains"))


def money_filters(model, amount_column, amount_label) -> list:
    """Sub-delegation, organisation and amount range (at least, at most) of a finance list."""
    return [SubDelegationOfOrder(model, tr(("交易分团", "Sub-delegation"))),
            OrganizationOfOrder(model, tr(("单位", "Organisation"))),
            FloatGreaterFilter(amount_column, tr(amount_label)),
            FloatSmallerFilter(amount_column, tr(amount_label))]
