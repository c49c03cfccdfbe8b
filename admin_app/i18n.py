"""The interface language: Simplified Chinese by default, English by choice.

The choice, strongest first: ?lang= on any page (the language link), remembered for the session; the
user's own setting (their account's 界面语言); Chinese. A choice made on the login page survives the
sign-in, which starts a fresh session. Flask-Admin's own strings take our words where its catalog
has odd ones (请选择模型, 项目): admin_app/translations, merged after Flask-Admin's catalog.
"""
from __future__ import annotations

import os
import sys
from urllib.parse import urlencode

from flask import Flask, g, request, session
from flask_login import current_user, user_logged_in

from admin_app.config import SUPPORTED_LOCALES
from admin_app.security import is_same_site_path

TRANSLATIONS = os.path.join(os.path.dirname(__file__), "translations")
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}  # each language named in itself


def normalise(code: str | None) -> str | None:
    """A supported locale for what a link, a session or a user setting says ('zh', 'zh-CN' -> zh_CN), or None."""
    code = (code or "").strip().replace("-", "_").lower()
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    """zh_CN unless ?lang=, the session or the user's own setting says otherwise."""
    wanted = normalise(request.args.get("lang")) if request else None
    if wanted in SUPPORTED_LOCALES:
        session["lang"] = wanted
        return wanted
    remembered = normalise(session.get("lang"))
    if remembered in SUPPORTED_LOCALES:
        return remembered
    own = normalise(getattr(current_user, "locale", None)) if current_user else None
    if own in SUPPORTED_LOCALES:
        return own
    return "zh_CN"


RETURN_ARGS = ("next", "url")  # where the page sends the user afterwards (sign-in, Flask-Admin's return url)


def language_url(locale: str) -> str:
    """This page in another language: the same path, its filters, search, sort, page and `next` kept
    (a return target only when it stays on the site: the link must not carry a crafted one along)."""
    args = [(key, value) for key, value in request.args.items(multi=True)
            if key != "lang" and (key not in RETURN_ARGS or is_same_site_path(value))]
    return request.path + "?" + urlencode(args + [("lang", locale)])


def language_links(current: str) -> list[tuple[str, str]]:
    """(name, url) of the other languages, for the language link."""
    return [(name, language_url(code)) for code, name in LANGUAGE_NAMES.items() if code != current]


def init_app(app: Flask) -> None:
    """The language link in every template, the login page's choice kept, and our words for Flask-Admin."""

    @app.context_processor
    def locale_links():
        from flask_babel import get_locale

        current = normalise(str(get_locale() or "zh_CN")) or "zh_CN"
        return {"current_locale": current, "supported_locales": SUPPORTED_LOCALES,
                "language_links": language_links(current) if request else []}

    @app.before_request
    def _remember_choice_before_sign_in():
        # Signing in clears the session (no value from before survives): note the language to carry over.
        if request.endpoint == "auth.login" and request.method == "POST":
            g.dd_lang_before_sign_in = normalise(session.get("lang"))

    @user_logged_in.connect_via(app)
    def _keep_choice_after_sign_in(sender, user, **extra):
        chosen = g.get("dd_lang_before_sign_in")
        if chosen:
            session["lang"] = chosen

    use_our_words_for_flask_admin()


def use_our_words_for_flask_admin() -> None:
    """Merge admin_app/translations after Flask-Admin's own catalog: Flask-Babel lets the last catalog win."""
    from flask_admin import babel as admin_babel

    directories = getattr(admin_babel.domain, "_translation_directories", None)
    if isinstance(directories, list) and TRANSLATIONS not in directories:
        directories.append(TRANSLATIONS)
        admin_babel.domain.cache.clear()


def compile_catalogs() -> list[str]:
    """Compile every admin.po under admin_app/translations to its admin.mo; the paths written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for folder, _, names in os.walk(TRANSLATIONS):
        for name in names:
            if name.endswith(".po"):
                with open(os.path.join(folder, name), "rb") as source:
                    catalog = read_po(source)
                target = os.path.join(folder, name[:-3] + ".mo")
                with open(target, "wb") as out:
                    write_mo(out, catalog)
                written.append(target)
    return sorted(written)


if __name__ == "__main__" and sys.argv[1:] == ["compile"]:
    print("\n".join(compile_catalogs()))
