"""Finance commands: create-orders and expire-orders. They own their transaction; exit 0 done, 3 some skipped, 1 error.

    flask --app admin_app create-orders --as gz --organization 12,13      # every person of theirs waiting to pay
    flask --app admin_app create-orders --as li --persons 101,102
    flask --app admin_app expire-orders --as finance [--as-of 2025-10-16]  # daily, e.g. from cron; idempotent
"""
from __future__ import annotations

import sys
import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from admin_app.extensions import db
from models import DomainError, Person, PersonState, User
from models.finance import operations as finance
from models.ids import id_in
from models.present import database_error_message

EXIT_SKIPPED = 3


def register(app: Flask) -> None:
    """Add the finance commands to the app's CLI."""
    for command in (create_orders_command, expire_orders_command):
        app.cli.add_command(command)


def _ids(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    items = [i.strip() for i in text.split(",") if i.strip()]
    if not all(i.isdecimal() for i in items):
        raise click.BadParameter(f"{option} 应为逗号分隔的编号：{text}")
    return [int(i) for i in items]


def _actor(username: str) -> User:
    actor = db.session.scalar(select(User).where(User.username == username))
    if actor is None:
        raise DomainError(f"用户不存在：{username}")
    return actor


def _fail(exc: Exception) -> None:
    """Roll back and exit 1 with a sentence (never the driver's text)."""
    db.session.rollback()
    message = database_error_message(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


@click.command("create-orders")
@with_appcontext
@click.option("--as", "username", required=True, help="The acting user (secretariat or sub-delegation admin).")
@click.option("--persons", default=None, help="Comma-separated person ids.")
@click.option("--organization", "organizations", default=None,
              help="Comma-separated organisation ids: every person of theirs waiting for payment.")
def create_orders_command(username, persons, organizations):
    """Put persons waiting for payment on orders, one per organisation; one line per person skipped."""
    try:
        person_ids, org_ids = _ids(persons, "--persons"), _ids(organizations, "--organization")
        if (person_ids is None) == (org_ids is None):
            raise DomainError("请给出 --persons 或 --organization 之一")
        target = person_ids if person_ids is not None else select(Person.id).where(
            id_in(Person.organization_id, org_ids), Person.state == PersonState.PENDING_PAYMENT.value)
        batch = finance.create_orders(db.session, target, actor=_actor(username))
        db.session.commit()
    except (DomainError, click.BadParameter, SQLAlchemyError) as exc:
        _fail(exc)
    for person_id, reason in batch.skipped.items():
        click.echo(f"{person_id}\tskipped: {reason}")
    click.echo(f"已生成订单 {len(batch.order_ids)} 个（{len(batch.done)} 人），未执行 {len(batch.skipped)} 人")
    sys.exit(0 if batch.complete else EXIT_SKIPPED)


@click.command("expire-orders")
@with_appcontext
@click.option("--as", "username", required=True, help="The acting user (secretariat or finance).")
@click.option("--as-of", "as_of", default=None, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Expire orders whose deadline lies before this date (default: today in Beijing).")
def expire_orders_command(username, as_of):
    """Expire unpaid orders past their payment method's deadline; running it again expires nothing twice."""
    try:
        result = finance.expire_orders(db.session, actor=_actor(username),
                                       as_of=as_of.date() if as_of else None)
        db.session.commit()
    except (DomainError, SQLAlchemyError) as exc:
        _fail(exc)
    for order_id in result.done:
        click.echo(f"{order_id}\texpired")
    for order_id, reason in result.skipped.items():
        click.echo(f"{order_id}\tskipped: {reason}")
    click.echo(f"已过期 {len(result.done)} 个订单")
    sys.exit(0 if result.complete else EXIT_SKIPPED)

