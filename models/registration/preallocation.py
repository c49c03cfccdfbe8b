"""Quotas pre-allocated by USCC (seed 004: 在单位注册前，可通过模板提前导入后为各单位分配VIP、工作人员证件数量),
applied when an organisation with that USCC registers in the same sub-delegation and edition.

Applying one moves nothing in the sub-delegation's books: allocated_quota() counts a pre-allocation until
its USCC registers and the organisation's own quotas from then on, so the total handed out stays the same.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.jsonrows import text_in
from models.registration.tables import QuotaAllocation


def pre_allocations(session: Session, edition_id: int, usccs: Iterable[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """{(uscc, sub-delegation id): (VIP quota, staff quota)} pre-allocated to these USCCs in the edition."""
    usccs = [u for u in usccs if u]
    if not usccs:
        return {}
    rows = session.execute(select(QuotaAllocation.uscc, QuotaAllocation.sub_delegation_id, QuotaAllocation.vip_quota,
                                  QuotaAllocation.staff_quota)
                           .where(QuotaAllocation.edition_id == edition_id, text_in(QuotaAllocation.uscc, usccs)))
    return {(r.uscc, r.sub_delegation_id): (r.vip_quota, r.staff_quota) for r in rows}


def with_pre_allocation(session: Session, values: dict) -> dict:
    """Registration values with the USCC's pre-allocated quotas, unless the registration gives quotas of its own."""
    if not values.get("uscc") or values.get("vip_quota") or values.get("staff_quota"):
        return values
    found = pre_allocations(session, values["edition_id"], [values["uscc"]]).get(
        (values["uscc"], values.get("sub_delegation_id")))
    if found is None:
        return values
    return dict(values, vip_quota=found[0], staff_quota=found[1])
