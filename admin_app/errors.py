"""Error pages in the back office's layout and the user's language, each with a way back.

Signed-in users get the menu, a link back to the list they were on (when they may open it) and the
home page; anonymous visitors get the sign-in link. A 500 page that cannot be drawn in the layout
(the database itself failing) falls back to a plain page: an error page must never fail.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from markupsafe import escape
from werkzeug.exceptions import InternalServerError

from admin_app.extensions import db

log = logging.getLogger(__name__)

# status -> ((title zh, en), (explanation zh, en))
PAGES = {
    400: (("请求无效", "Bad request"),
          ("请求无法处理（页面可能已过期），请返回后重试。",
           "The request could not be handled (the page may have expired); go back and try again.")),
    403: (("无权访问", "Access denied"),
          ("您的角色不能打开此页面或执行此操作。", "Your role may not open this page or do this.")),
    404: (("页面不存在", "Page not found"),
          ("该页面或记录不存在，或不在您的权限范围内。", "This page or record does not exist, or is outside what you may see.")),
    405: (("不支持此操作", "Not allowed"),
          ("此页面不支持该操作，请通过页面上的按钮操作。", "This page does not take that request; use the buttons on the page.")),
    413: (("文件过大", "File too large"),
          ("上传的内容超过了允许的大小。", "The upload is larger than allowed.")),
    500: (("系统出错", "Something went wrong"),
          ("处理请求时出错，请稍后重试；问题持续时请联系秘书处。",
           "The request failed; please try again later, and tell the secretariat if it persists.")),
}
BACK = {"list": ("返回列表", "Back to the list"), "home": ("返回首页", "Back to the home page"),
        "login": ("登录", "Sign in")}


def _english() -> bool:
    from flask_babel import get_locale

    try:
        return str(get_locale() or "zh_CN").startswith("en")
    except Exception:  # no locale can be selected (the session itself failing): the default language
        return False


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if _english() else pair[0]


def _admin():
    admins = current_app.extensions.get("admin") or []
    return admins[0] if admins else None


def _view_of_request(admin):
    """The admin view whose page failed (its blueprint is named after the view's endpoint), or None."""
    blueprint = request.blueprint
    return next((v for v in getattr(admin, "_views", ()) if blueprint and v.endpoint == blueprint), None)


def ways_back(view) -> list[tuple[str, str]]:
    """(words, url) of the links out of an error page: the list if the user may open it, home, or sign in."""
    if not current_user.is_authenticated:
        here = request.full_path if request.query_string else request.path
        return [(_pick(BACK["login"]), url_for("auth.login", next=here))]
    links = []
    if view is not None and hasattr(view, "index_view") and view.is_accessible():
        links.append((_pick(BACK["list"]), url_for(f"{view.endpoint}.index_view")))
    links.append((_pick(BACK["home"]), url_for("admin.index")))
    return links


def render_error(status: int):
    """The error page for `status` in the layout, or a plain page when the layout cannot be drawn."""
    title, text = (_pick(pair) for pair in PAGES.get(status, PAGES[500]))
    try:
        admin = _admin()
        view = _view_of_request(admin) if admin else None
        page_view = view or (admin.index_view if admin else None)
        links = ways_back(view)
        if page_view is None:
            raise RuntimeError("no admin to draw the layout")
        return page_view.render("admin/dd_error.html", status=status, title=title, text=text, links=links), status
    except Exception:
        log.exception("error page %s drawn without the layout", status)
        return plain_page(status, title, text), status


def plain_page(status: int, title: str, text: str) -> str:
    """An error page with no database, session or template behind it."""
    home = _pick(BACK["home"])
    return (f'<!doctype html><html lang="{"en" if _english() else "zh-CN"}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(text)}</p>"
            f'<p><a href="/admin/">{escape(home)}</a></p></body></html>')


def init_app(app: Flask) -> None:
    """Register the pages for 400, 403, 404, 405, 413 and 500."""

    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, lambda error, status=status: render_error(status))

    @app.errorhandler(InternalServerError)
    def server_error(error):
        # The failed request may have left the session in a failed transaction: the page's own queries
        # (the signed-in user, the menu) need a clean one.
        try:
            db.session.rollback()
        except Exception:
            log.exception("rollback before the error page failed")
        return render_error(500)
