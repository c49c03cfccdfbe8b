"""SMS gateways: one method, send(mobile, text). SMS_BACKEND chooses: 'log' (development) or a class path."""
from __future__ import annotations

import importlib
import logging
from typing import Protocol

from models.present import mask

log = logging.getLogger("delivery.sms")


class SmsGateway(Protocol):
    def send(self, mobile: str, text: str) -> None:
        """Deliver one text; raise on failure (the sender retries with backoff)."""


class LoggingSms:
    """Development gateway: writes the text to the log instead of sending it (the number masked)."""

    def __init__(self, config=None):
        self.config = config or {}

    def send(self, mobile: str, text: str) -> None:
        log.info("SMS to %s: %s", mask(mobile), text)


BACKENDS = {"log": LoggingSms, "logging": LoggingSms}


def gateway(config) -> SmsGateway:
    """The gateway SMS_BACKEND names: 'log', or 'package.module:Class' / 'package.module.Class' (given the config)."""
    name = (config.get("SMS_BACKEND") or "log").strip()
    cls = BACKENDS.get(name)
    if cls is None:
        module, _, attribute = name.partition(":") if ":" in name else name.rpartition(".")
        cls = getattr(importlib.import_module(module), attribute)
    return cls(config)
