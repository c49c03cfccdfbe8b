"""Command-line verbs: create-user, seed-demo, demo and transition. They own their transaction."""
from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from admin_app.extensions import db
from models import DomainError, Role, SubDelegation, User
from models.columns import type_range
from models.delegation.operations import create_user
from models.present import database_error_message
from models.engine import run
from models.workflows import WORKFLOWS

DEMO_USERS = [
    ("secretariat", "demo-secretariat", Role.SECRETARIAT, [], "秘书处演示账号"),
    ("guangzhou", "demo-guangzhou", Role.SUB_DELEGATION_ADMIN, ["guangzhou"], "广州市分团管理员"),
    ("finance", "demo-finance", Role.FINANCE, [], "财务演示账号"),
    ("viewer", "demo-viewer", Role.VIEWER, [], "领导查看账号"),
]
EXIT_SKIPPED = 3


def init_app(app: Flask) -> None:
    """Register the commands on the app's CLI."""
    for command in (create_user_command, seed_demo_command, demo_command, transition_command):
        app.cli.add_command(command)


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--sub-delegation", "sub_delegations", multiple=True, help="Code or name; repeat for several.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="")
def create_user_command(username, role, sub_delegations, password, display_name):
    """Create a back-office user."""
    try:
        user = create_user(db.session, username, password, role, sub_delegation_codes=list(sub_delegations),
                           display_name=display_name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建用户 {user.username}（{user.role.zh}）")


@click.command("seed-demo")
@with_appcontext
@click.option("--orgs", default=300, show_default=True, type=click.IntRange(0))
@click.option("--persons", default=1500, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=0, show_default=True, type=int)
def seed_demo_command(orgs, persons, seed):
    """Load the delegation tree and organisations and persons with eight weeks of history."""
    summary = _seed(orgs, persons, seed)
    db.session.commit()
    _echo_summary(summary)


@click.command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and users, do not start the server.")
@click.option("--reset", is_flag=True, help="Drop every table first and start from an empty database.")
@click.option("--orgs", default=300, show_default=True, type=click.IntRange(0), help="Organisations to generate.")
@click.option("--persons", default=1500, show_default=True, type=click.IntRange(0), help="Persons to generate.")
def demo_command(host, port, no_serve, reset, orgs, persons):
    """Create the database if needed (from nothing with --reset), seed it if empty, create demo users and serve."""
    from flask_migrate import upgrade

    from admin_app.seed import drop_everything

    if reset:
        click.echo("正在清空数据库（删除全部数据表）……")
        db.session.remove()  # no connection of ours may hold a table while it is dropped
        drop_everything(db.engine)
    upgrade()
    if db.session.scalar(select(SubDelegation.id).limit(1)) is None:
        click.echo("正在生成演示数据（八周的报名和审核记录）……")
        _echo_summary(_seed(orgs, persons, seed=0))
        db.session.commit()
    for username, password, role, subs, name in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == username)) is None:
            create_user(db.session, username, password, role, sub_delegation_codes=subs, display_name=name)
    db.session.commit()
    click.echo("演示账号（用户名 / 密码 / 角色）：")
    for username, password, role, subs, name in DEMO_USERS:
        click.echo(f"  {username:12} {password:20} {role.zh}{'（' + '、'.join(subs) + '）' if subs else ''}")
    if no_serve:
        return
    click.echo(f"请在浏览器打开 http://{host}:{port}/ （按 Ctrl+C 停止）")
    # The demo serves plain http on this machine: a Secure-only cookie would never come back.
    current_app.config.update(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    # app.run() refuses to block inside a flask CLI command; werkzeug's server is what it would start.
    run_simple(host, port, current_app._get_current_object(), use_reloader=False, threaded=True)


SCALE_FROM = 5_000  # organisations; beyond, a template run is cloned set-based (admin_app/seed/scale.py)


def _seed(orgs: int, persons: int, seed: int) -> dict:
    """seed_demo with a progress bar over its weeks; a refusal of the domain stops the command (rolled back)."""
    from admin_app.seed import WEEKS, seed_demo

    if orgs > SCALE_FROM:
        return _seed_at_scale(orgs, persons, seed)
    try:
        with click.progressbar(length=WEEKS, label="按周生成报名与审核记录", show_pos=True) as bar:
            return seed_demo(db.session, orgs=orgs, persons=persons, seed=seed, progress=lambda: bar.update(1),
                             uploads=current_app.config["UPLOADS_DIR"])
    except (DomainError, ValueError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None


def _seed_at_scale(orgs: int, persons: int, seed: int) -> dict:
    """The demo at national scale: a template run through the domain, cloned by one statement per table."""
    from admin_app.seed.scale import CLONED, ScaleError, seed_at_scale

    steps = 3 + len(CLONED) + 2
    try:
        with click.progressbar(length=steps, label="生成大规模演示数据", show_pos=True) as bar:
            return seed_at_scale(db.session, orgs=orgs, persons=persons, seed=seed,
                                 progress=lambda step: bar.update(1), uploads=current_app.config["UPLOADS_DIR"])
    except (DomainError, ValueError, ScaleError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None


def _echo_summary(summary: dict) -> None:
    """The seed's summary: counts, final states, labels, co-payment, money, ISO weeks of history, domain refusals."""
    click.echo(f"已生成：单位 {summary['organizations']} 家（已删除 {summary['deleted_organizations']}），"
               f"快递地址 {summary['addresses']} 条，人员 {summary['persons']} 人")
    for key in ("org_states", "person_states", "labels", "copay", "order_states", "payments", "invoice_states",
                "refund_states"):
        click.echo(f"  {key}: {summary[key]}")
    weeks = summary["iso_weeks"]
    if weeks:
        click.echo(f"  操作记录覆盖 {len(weeks)} 个自然周：{weeks[0][0]}-W{weeks[0][1]:02d} 至 "
                   f"{weeks[-1][0]}-W{weeks[-1][1]:02d}")
    refused = {k: v for k, v in summary["refused"].items() if v}
    if refused:
        click.echo(f"  业务规则拒绝（额度、预算等，记录保持原状）：{refused}")


def parse_matching(model, expression: str):
    """`field=value,field=value` into SQL conditions on the model's columns, each value read by its column's type."""
    columns = sa_inspect(model).columns
    parts = [p.strip() for p in (expression or "").split(",") if p.strip()]
    if not parts:
        raise click.BadParameter("条件为空：请写成 字段=值，多个条件用逗号分隔")
    conditions = []
    for part in parts:
        field, sep, value = part.partition("=")
        field = field.strip()
        if not sep or field not in columns:
            raise click.BadParameter(f"无法识别的条件：{part}（可用字段：{', '.join(columns.keys())}）")
        conditions.append(columns[field] == typed_value(columns[field], field, value.strip()))
    return conditions


def typed_value(column, field: str, text: str):
    """The text of a --all-matching value as the column's type (int, bool, enum value, date, number, text)."""
    type_ = column.type
    enum_cls = getattr(type_, "enum_class", None)
    try:
        if enum_cls is not None:
            members = {m.value: m for m in enum_cls} | {getattr(m, "zh", m.value): m for m in enum_cls}
            if text not in members:
                raise ValueError(f"可选值：{', '.join(m.value for m in enum_cls)}")
            return members[text]
        python_type = type_.python_type
    except NotImplementedError:
        python_type = str
    except ValueError as exc:
        raise click.BadParameter(f"字段 {field} 的值无效：{text}（{exc}）") from None
    parser, kind = TYPE_PARSERS.get(python_type, (str, "文本"))
    try:
        value = parser(text)
    except (ValueError, ArithmeticError):
        raise click.BadParameter(f"字段 {field} 的值应为{kind}：{text}") from None
    bounds = type_range(column)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise click.BadParameter(f"字段 {field} 的值超出范围：{text}")
    if isinstance(value, str) and ("\x00" in value or len(value) > (getattr(type_, "length", None) or 10_000)):
        raise click.BadParameter(f"字段 {field} 的值无效：{text[:50]}")
    return value


def parse_bool(text: str) -> bool:
    """true/false, 1/0, yes/no, 是/否."""
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "是"):
        return True
    if lowered in ("0", "false", "no", "否"):
        return False
    raise ValueError(text)


def parse_decimal(text: str) -> Decimal:
    """A finite decimal number (NaN and infinities are refused)."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


# python type of a column -> (parser of the command-line text, what to call it in a message)
TYPE_PARSERS = {
    int: (int, "整数"),
    bool: (parse_bool, "true 或 false"),
    Decimal: (parse_decimal, "数字"),
    float: (parse_decimal, "数字"),
    date: (date.fromisoformat, "日期（YYYY-MM-DD）"),
    datetime: (datetime.fromisoformat, "时间（YYYY-MM-DD HH:MM:SS）"),
    str: (str, "文本"),
}


def parse_id_list(ids: str) -> list[int]:
    """Comma-separated ids; anything that is not a whole number is an error, not a silent skip."""
    out = []
    for item in filter(None, (i.strip() for i in ids.split(","))):
        if not item.isdecimal():
            raise click.BadParameter(f"--ids 应为逗号分隔的编号：{item}")
        out.append(int(item))
    return out


@click.command("transition")
@with_appcontext
@click.argument("model_name", metavar="MODEL", type=click.Choice(sorted(WORKFLOWS)))
@click.argument("action")
@click.option("--as", "username", required=True, help="The acting user.")
@click.option("--ids", default=None, help="Comma-separated ids.")
@click.option("--all-matching", default=None, help='Every row in scope where "field=value,...".')
@click.option("--param", "params", multiple=True, help="name=value; repeat for several.")
def transition_command(model_name, action, username, ids, all_matching, params):
    """Run a workflow transition: one line per row, exit 0 all done, 3 some skipped, 1 error."""
    workflow = WORKFLOWS[model_name]
    try:
        actor = db.session.scalar(select(User).where(User.username == username))
        if actor is None:
            raise DomainError(f"用户不存在：{username}")
        if (ids is None) == (all_matching is None):
            raise DomainError("请给出 --ids 或 --all-matching 之一")
        if ids is not None:
            target = parse_id_list(ids)
        else:
            target = select(workflow.model.id).where(*parse_matching(workflow.model, all_matching))
        values = {}
        for item in params:
            name, sep, value = item.partition("=")
            if not sep:
                raise DomainError(f"参数格式应为 name=value：{item}")
            values[name.strip()] = value
        result = run(db.session, workflow, action, target, actor=actor, params=values)
        db.session.commit()
    except (DomainError, ValueError, click.BadParameter) as exc:
        db.session.rollback()
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        # A sentence, not the driver's text or a traceback; nothing was written (rolled back).
        db.session.rollback()
        click.echo(f"错误：{database_error_message(exc)}", err=True)
        sys.exit(1)
    for row_id in result.done:
        click.echo(f"{row_id}\tdone")
    for row_id, reason in result.skipped.items():
        click.echo(f"{row_id}\tskipped: {reason}")
    click.echo(f"完成 {len(result.done)} 条，未执行 {len(result.skipped)} 条")
    sys.exit(0 if result.complete else EXIT_SKIPPED)
