"""Locale selection: Simplified Chinese by default, English via ?lang=en, the session or the user's setting."""
from flask import Flask, request, session
from flask_login import current_user

from admin_app.config import SUPPORTED_LOCALES


def select_locale() -> str:
    """zh_CN unless ?lang=, the session or the user's own setting says otherwise."""
    wanted = request.args.get("lang") if request else None
    if wanted in SUPPORTED_LOCALES:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in SUPPORTED_LOCALES:
        return session["lang"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in SUPPORTED_LOCALES:
        return user_locale
    return "zh_CN"


def init_app(app: Flask) -> None:
    """Expose the locale switch to every template."""

    @app.context_processor
    def locale_links():
        from flask_babel import get_locale

        return {"current_locale": str(get_locale() or "zh_CN"), "supported_locales": SUPPORTED_LOCALES}
