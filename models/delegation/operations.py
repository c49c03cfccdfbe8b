"""Verbs on users: create, set a password, authenticate. They flush and never commit."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.delegation.tables import SubDelegation, User
from models.enums import Role
from models.errors import InvalidParameter
from models.passwords import check_strength, hash_password, normalise_username, verify


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                sub_delegation_codes: list[str] = (), display_name: str = "", actor: User | None = None) -> User:
    """A new back-office user; sub-delegation admins must be bound to at least one sub-delegation."""
    role = Role(role)
    username = normalise_username(username)
    if not username:
        raise InvalidParameter("用户名不能为空", field="username")
    check_strength(password, username)
    if session.scalar(select(User.id).where(func.lower(User.username) == username)):
        raise InvalidParameter(f"用户名已存在：{username}", field="username")
    subs = []
    for code in sub_delegation_codes:
        sub = session.scalar(select(SubDelegation).where(
            (SubDelegation.code == code) | (SubDelegation.name == code)))
        if sub is None:
            raise InvalidParameter(f"交易分团不存在：{code}", field="sub_delegation")
        subs.append(sub)
    if role is Role.SUB_DELEGATION_ADMIN and not subs:
        raise InvalidParameter("分团管理员须绑定至少一个交易分团", field="sub_delegation")
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=hash_password(password), active=True, sub_delegations=subs)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password with a new scrypt hash; the change ends the user's other sessions."""
    check_strength(password, user.username)
    user.password_hash = hash_password(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None: unknown user and wrong password take as long."""
    user = session.scalar(select(User).where(func.lower(User.username) == normalise_username(username)))
    if user is None or not user.active:
        verify(None, password)
        return None
    return user if verify(user.password_hash, password) else None
