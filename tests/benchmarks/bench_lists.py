"""Benchmark: the person list, the dashboard and a bulk transition at scale, beside a stock Flask-Admin ModelView.

    flask --app admin_app demo --reset --no-serve                      # an empty, migrated database
    flask --app admin_app seed-demo --orgs 200000 --persons 1000000    # then the national-scale demo
    python tests/benchmarks/bench_lists.py --database-url postgresql://postgres@127.0.0.1/DB [--rounds 25]

Both apps run in this process on the same database, freshly VACUUM ANALYZEd. Each page is fetched `rounds`
times and the median printed with the SQL statements it ran. The stock app is Flask-Admin's own ModelView of
Person with the same columns, filters and search, no scope and no row menus (what "stock" costs). The bulk
transition (produce_badges over 50,000 approved persons) runs in a transaction that is rolled back.
Not collected by pytest; prints figures, asserts nothing about time.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2])]

from flask import Flask  # noqa: E402
from flask_admin import Admin  # noqa: E402
from flask_admin.contrib.sqla import ModelView  # noqa: E402
from flask_babel import Babel  # noqa: E402
from flask_sqlalchemy import SQLAlchemy  # noqa: E402
from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import models  # noqa: E402
from models import Person, PersonState, User  # noqa: E402
from models.registration import operations as ops  # noqa: E402


class Counter:
    """Statements run on an engine while counting."""

    def __init__(self, engine):
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.n += 1


def timed(client, url: str, rounds: int, counter: Counter) -> tuple[float, int, int]:
    """(median ms, statements of one fetch, status) of GET url."""
    times = []
    for _ in range(rounds):
        counter.n = 0
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), counter.n, response.status_code


def stock_app(url: str):
    """Flask-Admin's ModelView of Person, as a project would start: the same columns, filters and search."""
    app = Flask("stock")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="stock")
    Babel(app)  # Flask-Admin's own texts are translated through it
    db = SQLAlchemy(model_class=models.Base)
    db.init_app(app)

    class StockPersonView(ModelView):
        column_list = ("name", "state", "label", "copay", "organization", "sub_delegation", "id_type", "id_number",
                       "mobile", "is_reuse")
        column_searchable_list = ("name",)
        column_filters = ("state", "label")
        column_default_sort = ("id", True)
        page_size = 50

    admin = Admin(app, name="stock")
    admin.add_view(StockPersonView(Person, db.session, endpoint="person"))
    return app, db


def ours(url: str):
    os.environ.setdefault("SECRET_KEY", "bench" * 8)
    from admin_app import create_app
    from admin_app.extensions import db
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "SESSION_COOKIE_SECURE": False}), db


def link(html: str, caption: str) -> str:
    match = re.search(r'<a class="page-link" href="([^"]+)">[^<]*' + re.escape(caption), html)
    return match.group(1).replace("&amp;", "&")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    raw = create_engine(url, isolation_level="AUTOCOMMIT")
    with raw.connect() as c:
        c.execute(text("VACUUM ANALYZE"))
        persons = c.scalar(text("SELECT count(*) FROM person"))
    print(f"{persons:,} persons; median of {args.rounds} rounds\n")

    app, db = ours(url)
    with app.app_context():
        counter = Counter(db.engine)
    client = app.test_client()
    client.post("/login", data={"username": "secretariat", "password": "demo-secretariat"})
    city = app.test_client()
    city.post("/login", data={"username": "guangzhou", "password": "demo-guangzhou"})
    first = client.get("/admin/person/").text
    pages = {"first page": "/admin/person/", "next page (keyset)": link(first, "下一页"),
             "last page (keyset)": link(first, "末页"), "page 1,000 (numbered)": "/admin/person/?page=999",
             "state filter": "/admin/person/?flt0_0=pending_review", "name prefix search": "/admin/person/?search=王",
             "organisation substring": "/admin/organization/?search=科技", "dashboard": "/admin/"}

    stock, stock_db = stock_app(url)
    with stock.app_context():
        stock_counter = Counter(stock_db.engine)
    stock_client = stock.test_client()
    last_page = (persons - 1) // 50
    stock_pages = {"first page": "/admin/person/", "next page (keyset)": "/admin/person/?page=1",
                   "last page (keyset)": f"/admin/person/?page={last_page}", "page 1,000 (numbered)": "/admin/person/?page=999",
                   "state filter": "/admin/person/?flt0_0=PENDING_REVIEW", "name prefix search": "/admin/person/?search=王",
                   "organisation substring": None, "dashboard": None}

    print(f"{'page':28} {'ours ms':>9} {'stmts':>6} {'city ms':>9} {'stock ms':>9} {'stmts':>6}")
    for name, path in pages.items():
        ms, n, status = timed(client, path, args.rounds, counter)
        city_ms, _, _ = timed(city, path, args.rounds, counter) if "keyset" not in name else (float("nan"), 0, 0)
        stock_path = stock_pages[name]
        if stock_path:
            stock_ms, stock_n, _ = timed(stock_client, stock_path, args.rounds, stock_counter)
        else:
            stock_ms, stock_n = float("nan"), 0
        print(f"{name:28} {ms:9.0f} {n:6d} {city_ms:9.0f} {stock_ms:9.0f} {stock_n:6d}" + ("" if status == 200 else f"  HTTP {status}"))

    engine = create_engine(url)
    with Session(engine) as session:
        actor = session.scalar(select(User).where(User.username == "secretariat"))
        ids = list(session.scalars(select(Person.id).where(Person.state == PersonState.APPROVED.value)
                                   .order_by(Person.id).limit(50_000)))
        statements = Counter(engine)
        start = time.perf_counter()
        result = ops.produce_badges(session, ids, actor=actor)
        elapsed = (time.perf_counter() - start) * 1000
        session.rollback()
    print(f"\nproduce_badges over {len(result.done):,} of {persons:,} persons: {elapsed:.0f} ms, "
          f"{statements.n} statements (rolled back)")


if __name__ == "__main__":
    main()
