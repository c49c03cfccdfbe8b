"""POST /api/payments/notify: the payment gateway's notification endpoint (QR and B2B).

Machine to machine, so no session and no CSRF token: the HMAC-SHA256 signature of the raw body (header
X-Signature, hex) under PAYMENT_GATEWAY_SECRET is the authentication. The gateway's changes are made and
audited as the finance account named by PAYMENT_GATEWAY_USER. Both settings come from the app config or
the environment; without them the endpoint answers 503 and changes nothing.

    200 {"ok": true, ...}   recorded (or recorded before: the same answer again)
    409 {"ok": false, "reason": ...}   refused (unknown order, amount not what the order asks, ...)
    400 unreadable notification, 401 bad signature, 503 not configured
"""
from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from admin_app.extensions import csrf, db
from models import Role, User
from models.finance.gateway import BadSignature, InvalidNotification, handle_notification

SIGNATURE_HEADER = "X-Signature"

bp = Blueprint("payments_api", __name__)
csrf.exempt(bp)


def _setting(name: str) -> str | None:
    return current_app.config.get(name) or os.environ.get(name)


def _gateway_actor() -> User | None:
    """The active finance account the gateway acts as, or None when it is not configured."""
    username = _setting("PAYMENT_GATEWAY_USER")
    if not username:
        return None
    return db.session.scalar(select(User).where(User.username == username, User.active,
                                                User.role == Role.FINANCE.value))


@bp.post("/api/payments/notify")
def notify():
    """Verify, record once, commit; answer the same for a repeated notification."""
    secret, actor = _setting("PAYMENT_GATEWAY_SECRET"), _gateway_actor()
    if not secret or actor is None:
        db.session.rollback()
        return jsonify(ok=False, reason="支付网关未配置"), 503
    body = request.get_data(cache=False)
    try:
        result = handle_notification(db.session, body, request.headers.get(SIGNATURE_HEADER), secret=secret,
                                     actor=actor)
    except BadSignature as exc:
        db.session.rollback()
        return jsonify(ok=False, reason=str(exc)), 401
    except InvalidNotification as exc:
        db.session.rollback()
        return jsonify(ok=False, reason=str(exc)), 400
    if not result["ok"]:
        db.session.rollback()
        current_app.logger.warning("payment notification refused: %s", result)
        return jsonify(result), 409
    db.session.commit()
    return jsonify(result), 200
