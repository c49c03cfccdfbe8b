"""Verbs on the delegation tree, editions and users: create, edit, set a password, authenticate. They flush, never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit.operations import record
from models.delegation.tables import Delegation, ExpoEdition, SubDelegation, User
from models.editing import create_row, edit_row
from models.enums import Role
from models.errors import InvalidParameter, NotAllowed
from models.registration.quotas import sub_delegation_usage
from models.validation import validate_email, validate_mobile
from models.passwords import check_strength, hash_password, normalise_username, verify


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                sub_delegation_codes: list[str] = (), display_name: str = "", locale: str | None = None,
                active: bool = True, actor: User | None = None) -> User:
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
                password_hash=hash_password(password), active=active, locale=locale, sub_delegations=subs)
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.created", object_type="user", object_id=user.id, sub_delegation_id=None,
           params={"username": username, "role": role.value, "sub_delegations": sorted(s.id for s in subs)})
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


# --- the delegation tree, editions and users: the secretariat's to change --------------------------

def _secretariat_only(actor: User, what: str) -> None:
    if actor is None or actor.role is not Role.SECRETARIAT:
        raise NotAllowed(f"只有秘书处可以修改{what}")


def create_sub_delegation(session: Session, values: dict, *, actor: User,
                          now: datetime | None = None) -> SubDelegation:
    """Add a sub-delegation (交易分团) with its target, quotas, budget and contact sheet."""
    _secretariat_only(actor, "交易分团")
    return create_row(session, SubDelegation, _contact_values(values), actor=actor, object_type="sub_delegation",
                      now=now)


def edit_sub_delegation(session: Session, sub: SubDelegation, values: dict, *, actor: User,
                        now: datetime | None = None) -> dict:
    """Change a sub-delegation: targets, quotas and budget are the secretariat's; quotas never below what is used."""
    _secretariat_only(actor, "交易分团的任务、额度和统付预算")
    values = _contact_values(values)
    usage = sub_delegation_usage(session, [sub.id]).get(sub.id, {})
    for key, (field_name, label) in {"vip": ("vip_quota", "VIP额度"), "staff": ("staff_quota", "工作人员额度"),
                                     "copay": ("copay_budget", "统付额度")}.items():
        used = usage.get(key, (0, 0))[0]
        if field_name in values and values[field_name] is not None and values[field_name] < used:
            raise InvalidParameter(f"{label}不能低于已使用的 {used}", field=field_name)
    return edit_row(session, sub, values, actor=actor, object_type="sub_delegation", now=now)


def _contact_values(values: dict) -> dict:
    values = dict(values)
    if values.get("mobile"):
        values["mobile"] = validate_mobile(values["mobile"])
    return values


def create_edition(session: Session, values: dict, *, actor: User, now: datetime | None = None) -> ExpoEdition:
    """Add an expo edition (dates, fees, payment deadlines)."""
    _secretariat_only(actor, "展会届次")
    return create_row(session, ExpoEdition, values, actor=actor, object_type="expo_edition", now=now)


def edit_edition(session: Session, edition: ExpoEdition, values: dict, *, actor: User,
                 now: datetime | None = None) -> dict:
    """Change an edition's dates, fees or deadlines."""
    _secretariat_only(actor, "展会届次")
    return edit_row(session, edition, values, actor=actor, object_type="expo_edition", now=now)


def create_delegation(session: Session, values: dict, *, actor: User, now: datetime | None = None) -> Delegation:
    """Add a delegation (交易团)."""
    _secretariat_only(actor, "交易团")
    return create_row(session, Delegation, values, actor=actor, object_type="delegation", now=now)


def edit_delegation(session: Session, delegation: Delegation, values: dict, *, actor: User,
                    now: datetime | None = None) -> dict:
    """Rename a delegation."""
    _secretariat_only(actor, "交易团")
    return edit_row(session, delegation, values, actor=actor, object_type="delegation", now=now)


def edit_user(session: Session, user: User, values: dict, *, actor: User, password: str | None = None,
              now: datetime | None = None) -> dict:
    """Change a user's name, role, sub-delegations, language or activation, or reset the password.

    A role, scope, activation or password change ends the user's sessions (models/delegation/tables.py).
    """
    _secretariat_only(actor, "用户")
    values = dict(values)
    if "username" in values:
        values["username"] = normalise_username(values["username"])
        taken = session.scalar(select(User.id).where(func.lower(User.username) == values["username"],
                                                     User.id != user.id))
        if taken:
            raise InvalidParameter(f"用户名已存在：{values['username']}", field="username")
    role = Role(values.get("role", user.role))
    if role is Role.SUB_DELEGATION_ADMIN and not values.get("sub_delegations", user.sub_delegations):
        raise InvalidParameter("分团管理员须绑定至少一个交易分团", field="sub_delegations")
    if user.id == actor.id and (values.get("active") is False or role is not Role.SECRETARIAT):
        raise InvalidParameter("不能停用自己的账号或取消自己的秘书处角色", field="role")
    changes = edit_row(session, user, values, actor=actor, object_type="user", now=now)
    if password:
        set_password(user, password)
        session.flush()
        record(session, actor=actor, action="user.password_reset", object_type="user", object_id=user.id,
               sub_delegation_id=None, now=now)
    return changes


def change_own_password(session: Session, user: User, current: str, new: str, *, actor: User,
                        now: datetime | None = None) -> None:
    """A user replaces their own password after giving the current one; their other sessions end."""
    if actor.id != user.id:
        raise NotAllowed("只能修改自己的密码")
    if not verify(user.password_hash, current):
        raise InvalidParameter("当前密码不正确", field="current_password")
    if new == current:
        raise InvalidParameter("新密码不能与当前密码相同", field="new_password")
    try:
        set_password(user, new)
    except InvalidParameter as exc:
        raise InvalidParameter(exc.message, field="new_password") from None
    session.flush()
    record(session, actor=actor, action="user.password_changed", object_type="user", object_id=user.id,
           sub_delegation_id=None, now=now)


def edit_own_contact(session: Session, user: User, values: dict, *, actor: User,
                     now: datetime | None = None) -> dict:
    """A user binds their own mobile and e-mail (seed 004: 登录后可绑定手机号、邮箱) and picks a language."""
    if actor.id != user.id:
        raise NotAllowed("只能修改自己的账号信息")
    unknown = set(values) - {"mobile", "email", "locale", "display_name"}
    if unknown:
        raise InvalidParameter(f"不能在此修改：{', '.join(sorted(unknown))}")
    values = dict(values)
    if values.get("mobile"):
        values["mobile"] = validate_mobile(values["mobile"])
    if values.get("email"):
        values["email"] = validate_email(values["email"])
    if values.get("locale") not in (None, "", "zh_CN", "en"):
        raise InvalidParameter("界面语言只能是中文或 English", field="locale")
    return edit_row(session, user, {k: (v or None) for k, v in values.items()}, actor=actor, object_type="user",
                    now=now)
