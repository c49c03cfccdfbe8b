"""Payment gateway notifications (QR and B2B): a signed JSON body, recorded once, answered the same each time.

The gateway signs the raw body with HMAC-SHA256 under a shared secret and sends the hex digest; the body is
{"order_number", "method", "amount", "reference", "paid_at"} (paid_at ISO 8601; without an offset it is
Beijing time), optionally "payer_name". A bad signature changes nothing. Gateways repeat notifications until
they are answered, so a repeat finds the payment recorded the first time and gets the same answer.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from models.delegation.tables import User
from models.errors import DomainError, InvalidParameter
from models.finance import operations
from models.finance.ordering import SHANGHAI

FIELDS = ("order_number", "method", "amount", "reference", "paid_at")


class BadSignature(DomainError):
    """The body is not signed with the configured secret: nothing is read or changed."""


class InvalidNotification(DomainError):
    """The body is signed but not a notification we can read."""


def sign(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of the raw body under the secret (what the gateway sends)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, signature: str | None, secret: str) -> None:
    """BadSignature unless `signature` is the body's HMAC under the secret (compared in constant time)."""
    if not secret:
        raise BadSignature("未配置支付网关密钥")
    if not signature or not hmac.compare_digest(sign(body, secret), signature.strip().lower()):
        raise BadSignature("签名无效")


def parse(body: bytes) -> dict:
    """The notification's fields, typed; InvalidNotification naming what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidNotification("通知内容不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise InvalidNotification("通知内容应为 JSON 对象")
    missing = [name for name in FIELDS if data.get(name) in (None, "")]
    if missing:
        raise InvalidNotification(f"通知缺少字段：{', '.join(missing)}")
    try:
        amount = Decimal(str(data["amount"]))
        paid_at = datetime.fromisoformat(str(data["paid_at"]))
    except (InvalidOperation, ValueError):
        raise InvalidNotification("amount 或 paid_at 格式无效") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidNotification("amount 须为正数")
    if paid_at.tzinfo is None:
        paid_at = paid_at.replace(tzinfo=SHANGHAI)
    payer = data.get("payer_name")
    return {"order_number": str(data["order_number"]), "method": str(data["method"]), "amount": amount,
            "reference": str(data["reference"]), "paid_at": paid_at,
            "payer_name": str(payer)[:200] if payer else None}


def handle_notification(session: Session, body: bytes, signature: str | None, *, secret: str,
                        actor: User) -> dict:
    """Verify, parse and record a notification; the answer (a dict) is the same for a repeated notification.

    `actor` is the gateway's finance account (it signs the audit entries). Raises BadSignature or
    InvalidNotification before anything is written; flushes, never commits.
    """
    check_signature(body, signature, secret)
    fields = parse(body)
    try:
        outcome = operations.record_gateway_payment(session, actor=actor, **fields)
    except InvalidParameter as exc:  # an unknown method or a reference too long: the notification is at fault
        raise InvalidNotification(str(exc)) from None
    return outcome.as_dict()
