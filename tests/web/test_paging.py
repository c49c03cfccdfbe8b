"""Lists at scale (issue 11): a bounded count with 「约 N 条」 or 「超过 N 条」 beyond it, and next / previous / last pages
continued by keyset, each page in at most three statements, never skipping or repeating a row."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from factories import bulk_organizations
from models import Organization, OrgState, Person

CAP = 5


@pytest.fixture
def small_cap(app, monkeypatch):
    """Lists count exactly up to 5 rows here, so a dozen rows behave like a million."""
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", CAP)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-row="(\d+)"', html)]


def link(html: str, caption: str) -> str | None:
    match = re.search(r'<a class="page-link" href="([^"]+)">[^<]*' + re.escape(caption), html)
    return match.group(1).replace("&amp;", "&") if match and not match.group(1).startswith("javascript") else None


@pytest.fixture
def many(session, world):
    """45 organisations of 广州, newest first as the list shows them."""
    bulk_organizations(session, world.subs["GZ"], 45, state=OrgState.SUBMITTED)
    session.commit()
    return list(session.scalars(select(Organization.id).where(Organization.sub_delegation_id == world.subs["GZ"].id)
                                .order_by(Organization.id.desc())))


def test_beyond_the_cap_the_list_says_about_or_over_and_counts_in_one_statement(
        world, client_for, many, small_cap, count_statements, database_url):
    client = client_for(world.admins["GZ"])
    with count_statements() as statements:
        page = client.get("/admin/organization/?page_size=20")
    assert page.status_code == 200 and len(statements) <= 3
    shown = re.search(r'nav-link active">([^<]*)<', page.text).group(1)
    assert ("约" in shown) if database_url.startswith("postgresql") else ("超过 5" in shown), shown


def test_next_pages_walk_every_row_once_in_order_and_previous_walks_back(world, client_for, many, small_cap,
                                                                        count_statements):
    client = client_for(world.admins["GZ"])
    url, seen, pages = "/admin/organization/?page_size=20", [], []
    while url:
        with count_statements() as statements:
            page = client.get(url)
        assert page.status_code == 200 and len(statements) <= 3, statements
        # A continued page starts from the last row seen (SQLite always writes "OFFSET ?", with 0 here).
        assert "after=" not in url or "organization.id < " in statements[-1], statements[-1][-300:]
        seen += row_ids(page.text)
        pages.append(page.text)
        url = link(page.text, "下一页")
    assert seen == many  # every row once, newest first, across 3 pages
    back = client.get(link(pages[-1], "上一页"))
    assert row_ids(back.text) == many[20:40]
    last = client.get(link(pages[0], "末页"))
    assert row_ids(last.text) == many[-20:]
    assert "末页" in last.text and link(last.text, "下一页") is None


def test_keyset_pages_follow_a_sort_by_name(world, client_for, many, small_cap, session):
    client = client_for(world.admins["GZ"])
    first = client.get("/admin/organization/?page_size=20")
    name_sort = re.search(r'href="([^"]*sort=(\d+)[^"]*)"[^>]*>\s*单位名称', first.text)
    assert name_sort, "the name column is sortable"
    url, seen = name_sort.group(1).replace("&amp;", "&") + "&page_size=20", []
    while url:
        page = client.get(url)
        seen += row_ids(page.text)
        url = link(page.text, "下一页")
    desc = "desc=1" in name_sort.group(1)
    # The database's own order of (name, id), so the test holds whatever its collation does with Chinese.
    order = (Organization.name.desc(), Organization.id.desc()) if desc else (Organization.name, Organization.id)
    assert seen == list(session.scalars(select(Organization.id).where(Organization.id.in_(many)).order_by(*order)))


def test_a_forged_cursor_is_ignored_never_a_500(world, client_for, many, small_cap):
    client = client_for(world.admins["GZ"])
    for token in ("%%%", "W10", "WyJ4IiwgInkiXQ", "eyJhIjoxfQ", "W251bGwsOTk5OTk5OTk5OTk5XQ"):
        page = client.get(f"/admin/organization/?page_size=20&after={token}")
        assert page.status_code == 200
        assert row_ids(page.text) == many[:20]


def test_a_short_list_keeps_its_numbered_pages_and_exact_count(world, client_for, many):
    page = client_for(world.admins["GZ"]).get("/admin/organization/?page_size=20")
    assert "列表 (45)" in page.text and "上一页" not in page.text


def test_a_numbered_page_skips_by_id_and_shows_the_same_rows_as_walking_there(world, client_for, many, small_cap):
    client = client_for(world.admins["GZ"])
    assert row_ids(client.get("/admin/organization/?page_size=20&page=1").text) == many[20:40]
    assert row_ids(client.get("/admin/organization/?page_size=20&page=2").text) == many[40:]


def test_a_quote_in_the_search_reaches_the_estimate_as_text_never_as_sql(session, world, client_for, small_cap):
    """Beyond the cap the count is the planner's estimate of the list's own SQL, values written in: a typed
    quote or semicolon stays inside its string (PostgreSQL; SQLite has no estimate and just says 超过)."""
    bulk_organizations(session, world.subs["GZ"], 8, state=OrgState.SUBMITTED, name="O'Brien'); DROP TABLE person; --")
    session.commit()
    page = client_for(world.admins["GZ"]).get("/admin/organization/?search=O'Brien');")
    assert page.status_code == 200 and re.search(r'nav-link active">[^<]*(约|超过)', page.text)
    assert session.scalar(select(func.count()).select_from(Organization)) >= 8
    assert session.scalar(select(func.count()).select_from(Person)) == 0  # the table is there, untouched
