"""The Bootswatch theme without its Google Fonts @import: pages load nothing from outside the site."""
from __future__ import annotations

import os
import re
from functools import lru_cache

import flask_admin
from flask import Blueprint, Flask, Response, current_app

bp = Blueprint("theme", __name__)
SWATCHES = os.path.join(os.path.dirname(flask_admin.__file__), "static", "bootstrap", "bootstrap4", "swatch")
EXTERNAL_IMPORT = re.compile(r"@import url\((?:https?:)?//[^)]*\);?")


@lru_cache(maxsize=8)
def theme_css(swatch: str) -> str:
    """The swatch's stylesheet minus @imports of other sites (blocked by the CSP, unreachable in China)."""
    with open(os.path.join(SWATCHES, swatch, "bootstrap.min.css"), encoding="utf-8") as fh:
        return EXTERNAL_IMPORT.sub("", fh.read())


@bp.route("/theme/bootstrap.min.css")
def stylesheet():
    response = Response(theme_css(current_app.config["FLASK_ADMIN_SWATCH"]), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
