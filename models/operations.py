"""One function per verb: `organizations.return_for_edit(session, ids, actor=user, reason="...")`.

The verbs are the workflow tables' transition names, so a transition added to a table is a new
operation here with no other code. Every verb flushes and never commits.
"""
from __future__ import annotations

from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.delegation import SubDelegation, User
from models.enums import Role
from models.errors import InvalidParameter
from models.workflow import ORGANIZATION_WORKFLOW, PERSON_WORKFLOW, Result, Workflow, run


class Verbs:
    """Attribute access to a workflow's transitions as functions (session, ids, *, actor, **params)."""

    def __init__(self, workflow: Workflow):
        self.workflow = workflow

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in self.workflow.names():
            raise AttributeError(name)
        return partial(self._run, name)

    def __dir__(self):
        return self.workflow.names()

    def _run(self, name: str, session: Session, target, *, actor: User, **params) -> Result:
        return run(session, self.workflow, name, target, actor=actor, params=params)


organizations = Verbs(ORGANIZATION_WORKFLOW)
persons = Verbs(PERSON_WORKFLOW)


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                sub_delegation_codes: list[str] = (), display_name: str = "", actor: User | None = None) -> User:
    """A new back-office user; sub-delegation admins must be bound to at least one sub-delegation."""
    role = Role(role)
    username = username.strip()
    if not username:
        raise InvalidParameter("用户名不能为空", field="username")
    if len(password) < 8:
        raise InvalidParameter("密码至少 8 位", field="password")
    if session.scalar(select(User.id).where(User.username == username)):
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
                password_hash=generate_password_hash(password), active=True, sub_delegations=subs)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password with a new scrypt hash."""
    if len(password) < 8:
        raise InvalidParameter("密码至少 8 位", field="password")
    user.password_hash = generate_password_hash(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for unknown user and wrong password)."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user
