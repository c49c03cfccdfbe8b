"""Wiring of the background side: mail and SMS settings, the job queue, /healthz, the outbox commands,
and the pages 我的任务 and 群发邮件. create_app() calls init_app() once."""
from __future__ import annotations

import os

from flask import Flask

from admin_app.config import FALSE_WORDS

# name -> (type, default). The environment fills what create_app(config) did not set.
SETTINGS = {
    "MAIL_SERVER": (str, "localhost"),
    "MAIL_PORT": (int, 25),
    "MAIL_USERNAME": (str, None),
    "MAIL_PASSWORD": (str, None),
    "MAIL_USE_TLS": (bool, False),
    "MAIL_USE_SSL": (bool, False),
    "MAIL_DEFAULT_SENDER": (str, "noreply@localhost"),
    "MAIL_TIMEOUT": (int, 30),  # seconds; an SMTP server that hangs must not hold the outbox for ever
    "MAIL_BACKEND": (str, None),  # smtp (default), locmem (default under TESTING), console, file
    "SMS_BACKEND": (str, "log"),  # 'log' writes texts to the log; a real gateway: 'package.module:Class'
    "RQ_QUEUE": (str, "delegation-desk"),  # one queue per deployment sharing a Redis
    "JOB_TIMEOUT": (int, 3600),
    # Beyond these sizes the work runs as a background job (RQ with REDIS_URL, else inline) with its bar on 我的任务.
    "IMPORT_INLINE_ROWS": (int, 2000),  # rows of an uploaded spreadsheet
    "EXPORT_INLINE_ROWS": (int, 20000),  # rows an export would write (every sub-delegation as a zip: always a job)
    "BATCH_INLINE_ROWS": (int, 5000),  # rows of a batch transition or batch refund
    "OUTBOX_MAX_ATTEMPTS": (int, 5),
    "OUTBOX_RETRY_SECONDS": (int, 60),  # first retry after this, then doubled each time (at most 6 hours)
}


def parse(kind, text: str):
    if kind is bool:
        return text.strip().lower() not in FALSE_WORDS
    return kind(text)


def apply_settings(app: Flask, environ=os.environ) -> None:
    """Explicit config first, then the environment, then the defaults above."""
    for name, (kind, default) in SETTINGS.items():
        if name in app.config:
            continue
        raw = environ.get(name)
        app.config[name] = parse(kind, raw) if raw not in (None, "") else default


def init_app(app: Flask, admin, db) -> None:
    from admin_app import background_cli, health
    from delivery.mail import mail
    from views.jobs import register_job_views

    apply_settings(app)
    mail.init_app(app)
    app.register_blueprint(health.bp)
    background_cli.register(app)
    register_job_views(app, admin, db)
