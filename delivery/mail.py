"""E-mail through Flask-Mailman (MAIL_* settings; the locmem backend in tests), one connection per pass."""
from __future__ import annotations

from flask_mailman import EmailMessage, Mail

# Bound to the app by admin_app/background.py (Mail().init_app reads MAIL_* from the app's config).
mail = Mail()


class Mailer:
    """Keeps one SMTP connection open for a pass over the outbox; a failure closes it, the next send reopens."""

    def __init__(self):
        self._connection = None

    def send(self, recipient: str, subject: str, text: str) -> None:
        if self._connection is None:
            self._connection = mail.get_connection()
            self._connection.open()
        try:
            EmailMessage(subject, text, to=[recipient], connection=self._connection).send()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # a broken connection has nothing left to close
                pass
            self._connection = None
