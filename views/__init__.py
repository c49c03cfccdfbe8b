"""Flask-Admin views: thin, scoped, generated from the registry."""
import os

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from views.account import AccountView
from views.dashboard import DashboardView
from views.i18n import tr
from views.imports import imports_view
from views.registry import register_views
from views.reports import ReportsView

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def init_admin(app: Flask, db, csp_nonce_generator=None) -> Admin:
    """Create the Admin with the dashboard as its index and register every model view."""
    import jinja2

    # Our templates (list/details/transition pages) are found before Flask-Admin's own.
    app.jinja_loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), app.jinja_loader])
    admin = Admin(app, name=tr(("交易团管理后台", "Delegation Desk")),
                  theme=Bootstrap4Theme(swatch=app.config["FLASK_ADMIN_SWATCH"], fluid=True,
                                        base_template="admin/dd_master.html"),
                  index_view=DashboardView(db, name=tr(("首页", "Home")), url="/admin"),
                  csp_nonce_generator=csp_nonce_generator)
    register_views(admin, db)
    admin.add_view(imports_view(db))
    admin.add_view(ReportsView(db, name=tr(("报表", "Reports")), endpoint="reports", url="/admin/reports"))
    admin.add_view(AccountView(db, name=tr(("我的账号", "My account")), endpoint="account", url="/admin/account"))
    return admin
