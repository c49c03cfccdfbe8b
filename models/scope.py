"""The one source of row scope: visible(actor, Model) is the SQL predicate limiting what a user sees."""
from __future__ import annotations

from sqlalchemy import and_, exists, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from models.base import Base
from models.delegation import Delegation, ExpoEdition, SubDelegation, User
from models.enums import Role
from models.ids import id_in
from models.registration import Organization, Person

# Roles that see every row of the delegation (viewers read-only, with masked personal data).
DELEGATION_WIDE_ROLES = frozenset({Role.SECRETARIAT, Role.FINANCE, Role.VIEWER})
REFERENCE_MODELS = (ExpoEdition, Delegation)


def model_by_name(name: str) -> type[Base]:
    """The mapped class with this class name."""
    for mapper in Base.registry.mappers:
        if mapper.class_.__name__ == name:
            return mapper.class_
    raise LookupError(name)


def visible(actor: User, model: type[Base]) -> ColumnElement[bool]:
    """SQL predicate: rows of `model` the actor may see, count, open, change, export or act on."""
    if actor is None or not actor.active:
        return false()
    if model is User:
        return true() if actor.role is Role.SECRETARIAT else User.id == actor.id
    if actor.role in DELEGATION_WIDE_ROLES:
        return true()
    if actor.role is not Role.SUB_DELEGATION_ADMIN:
        return false()
    ids = actor.sub_delegation_ids
    if not ids:
        return false()
    if model in REFERENCE_MODELS:
        return true()
    if model is SubDelegation:
        return id_in(SubDelegation.id, ids)
    scope_column = getattr(model, "__scope_column__", None)
    if scope_column:
        predicate = id_in(getattr(model, scope_column), ids)
        if model is Organization:
            return and_(predicate, Organization.deleted_at.is_(None))
        if model is Person:
            deleted_org = exists().where(Organization.id == Person.organization_id,
                                         Organization.deleted_at.is_not(None))
            return and_(predicate, ~deleted_org)
        return predicate
    parent = getattr(model, "__scope_parent__", None)
    if parent:
        fk_name, parent_name = parent
        parent_model = model_by_name(parent_name)
        return getattr(model, fk_name).in_(select(parent_model.id).where(visible(actor, parent_model)))
    return false()


def sees_everything(actor: User) -> bool:
    """True for roles whose scope is the whole delegation."""
    return actor is not None and actor.role in DELEGATION_WIDE_ROLES


def sub_delegation_expression(model) -> ColumnElement:
    """The sub-delegation a row belongs to, as SQL: its own column, or its scope parent's (recursively)."""
    scope_column = getattr(model, "__scope_column__", None)
    if scope_column:
        return getattr(model, scope_column)
    fk_name, parent_name = model.__scope_parent__
    parent = model_by_name(parent_name)
    return (select(sub_delegation_expression(parent)).where(parent.id == getattr(model, fk_name))
            .correlate(model).scalar_subquery())
