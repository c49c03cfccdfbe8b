"""Response hardening: same-site redirects only, security headers with a CSP nonce, trusted proxies."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import unquote, urlsplit

import flask_admin.helpers
from flask import Flask, current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Browsers drop these anywhere in a URL ("/\t/evil" is "//evil" to them), so they are removed before checking.
_IGNORED_BY_BROWSERS = {chr(c) for c in range(0x20)} | {"\x7f"}


def _as_browser_reads(target: str) -> str:
    """The target as a browser would resolve it: control characters gone, backslashes as slashes."""
    cleaned = "".join(ch for ch in target if ch not in _IGNORED_BY_BROWSERS).strip()
    return cleaned.replace("\\", "/")


def is_same_site_path(target: str | None) -> bool:
    """True for a path on this site ('/admin/...'); false for anything a browser could take off-site."""
    if not target:
        return False
    seen = target
    for _ in range(5):  # undo percent-encoding a few layers deep: %2F%2F, %252F%252F, ...
        readable = _as_browser_reads(seen)
        if not readable.startswith("/") or readable.startswith("//"):
            return False
        parts = urlsplit(readable)
        if parts.scheme or parts.netloc:
            return False
        decoded = unquote(seen)
        if decoded == seen:
            return True
        seen = decoded
    return False


def safe_redirect_target(target: str | None, fallback: str) -> str:
    """`target` when it is a same-site path, else `fallback`."""
    return _as_browser_reads(target) if is_same_site_path(target) else fallback


def _flask_admin_is_safe_url(target: str) -> bool:
    """Flask-Admin's own check accepts '/\\evil.example' (a browser goes off-site); use ours instead."""
    return is_same_site_path(target)


def csp_nonce() -> str:
    """One random nonce per response, for the inline scripts the back office's own templates carry."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


# Flask-Admin's templates carry a few fixed inline handlers and javascript: links. CSP3's 'unsafe-hashes'
# allows exactly these strings (nothing else inline runs), so the templates need no fork.
FLASK_ADMIN_INLINE = ("javascript:void(0)", "return false;")


def _source_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def inline_handler_hashes(action_names) -> str:
    """Hashes of Flask-Admin's fixed handlers and of its bulk-action handler for each registered action."""
    sources = list(FLASK_ADMIN_INLINE) + [f"return modelActions.execute('{name}');" for name in sorted(action_names)]
    return " ".join(_source_hash(s) for s in sources)


def content_security_policy(nonce: str, handler_hashes: str = "") -> str:
    """Scripts only from this site or with this response's nonce; never framed by another site."""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}' 'unsafe-hashes' {handler_hashes}".rstrip(),
        "style-src 'self' 'unsafe-inline'",  # Flask-Admin's templates and ours use style attributes
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _add_security_headers(response):
    """Every response: no framing, no MIME sniffing, same-origin referrers, the CSP."""
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    hashes = current_app.extensions.get("dd_inline_hashes", "")
    headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), hashes))
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def allow_admin_actions(app: Flask, admin) -> None:
    """Let the CSP accept the bulk-action handlers of every view registered on `admin`."""
    names = {name for view in admin._views for name, _ in getattr(view, "_actions", None) or ()}
    app.extensions["dd_inline_hashes"] = inline_handler_hashes(names)


def init_app(app: Flask) -> None:
    """Install the headers, the redirect check and, when configured, the trusted-proxy fix."""
    app.after_request(_add_security_headers)
    flask_admin.helpers.is_safe_url = _flask_admin_is_safe_url
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Only then is X-Forwarded-For believed: by default the peer address is the client address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
