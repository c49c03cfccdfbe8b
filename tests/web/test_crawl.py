"""A crawl of every registered view as every role, with odd URL parameters: no page may answer a 5xx.

Odd values are sampled, not crossed: each (role, view) pair gets a different slice of the odd filter
values, list arguments, searches and ids, so the four roles together cover every value for every
filter index while the crawl stays a few hundred requests per backend.
"""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from support import ALL_ENDPOINTS
from views.registry import VIEW_SPECS

ROLES = ("secretariat", "GZ", "finance", "viewer")
ODD_FILTER_VALUES = ["珠海市", "", "2025-13-45", "abc,def", "0001-01-01", "9999-12-31 to 0001-01-01",
                     "99999999999999999999", "-1", "NaN", "1e309", "' OR 1=1 --", "%_\\", "a\x00b", "x" * 3000,
                     "2025-01-01 00:00:00 to 2025-12-31 23:59:59", "1,2,,3", "submitted,nosuchstate", "1"]
ODD_LIST_ARGS = [{"sort": "999", "desc": "x", "page": "-3", "page_size": "0"},
                 {"sort": "-1", "page": "99999", "page_size": "100000"},
                 {"sort": "abc", "page": "abc", "page_size": "abc", "desc": "1"},
                 {"sort": str(10**20), "page": str(10**20), "page_size": "-1", "desc": "-1"}]
ODD_SEARCHES = ["%", "_", "'\"", "x" * 5000, "a\x00b", "440101199001011234", " a  b ", "%%__\\", "13900000000"]
UNKNOWN_FILTER_KEYS = {"flt0_999": "1", "flt_x": "1", "fltabc": "2", "flt1_": "3"}
LIST_URLS = 2  # per (role, view): with four roles, eight of the odd values reach each filter index
ODD_IDS = ["abc", "-1", "0", "999999", str(10**20), "1.5", "", "1 OR 1=1", "%00"]


def views_of(app):
    """{endpoint: view instance} of every registered model view."""
    found = {}
    for admin in app.extensions["admin"]:
        for view in admin._views:
            if getattr(view, "endpoint", None) in ALL_ENDPOINTS:
                found[view.endpoint] = view
    return found


def pick(values, n):
    return values[n % len(values)]


def list_urls(endpoint, view, salt):
    """List URLs with odd paging, sorting, search, unknown filter keys and a value for every filter index;
    the export (same query path) for every other role."""
    filters = view._filters or []
    urls = []
    for k in range(LIST_URLS):
        args = dict(pick(ODD_LIST_ARGS, salt + k), **UNKNOWN_FILTER_KEYS)
        args["search"] = pick(ODD_SEARCHES, salt * LIST_URLS + k)
        for i, flt in enumerate(filters):
            args[f"flt{i}_{view.get_filter_arg(i, flt)}"] = pick(ODD_FILTER_VALUES, i + salt * LIST_URLS + k)
        urls.append(f"/admin/{endpoint}/?{urlencode(args)}")
    if salt % 2 == 0:
        urls.append(f"/admin/{endpoint}/export.xlsx?{urlencode(args)}")
    return urls


def row_urls(endpoint, real_id, salt):
    """Details of a real row and of an id that is no row (or no number); edit of one of them; the create page."""
    odd = pick(ODD_IDS, salt)
    urls = [f"/admin/{endpoint}/details/?{urlencode({'id': i})}" for i in (real_id, odd) if i is not None]
    edited = real_id if salt % 2 == 0 and real_id is not None else odd
    return urls + [f"/admin/{endpoint}/edit/?{urlencode({'id': edited})}", f"/admin/{endpoint}/new/"]


def ajax_urls(endpoint, view, salt):
    """Ajax lookups with odd terms, offsets and limits (and an unknown loader)."""
    loaders = list(getattr(view, "form_ajax_refs", None) or {})
    urls = [f"/admin/{endpoint}/ajax/lookup/?name=nosuchfield&query=x"] if loaders else []
    for name in loaders:
        args = {"name": name, "query": pick(ODD_SEARCHES, salt), "offset": pick(["-5", "abc", str(10**20)], salt),
                "limit": pick(["-1", "0", "100000", "abc"], salt)}
        urls.append(f"/admin/{endpoint}/ajax/lookup/?{urlencode(args)}")
    return urls


def transition_urls(endpoint, view, salt):
    """A workflow view's parameter page over odd ids, and over every row matching odd filters and search."""
    workflow = getattr(view, "workflow", None)
    if workflow is None:
        return []
    name = pick(workflow.names(), salt)
    odd_list = list_urls(endpoint, view, salt)[0].split("?", 1)[1]
    return [f"/admin/{endpoint}/transition/{name}/?ids=abc,{10**20},-1",
            f"/admin/{endpoint}/transition/{name}/?all=1&{odd_list}"]


def fetch(client, url):
    """The status code, or the exception the request raised (TESTING propagates them)."""
    try:
        return client.get(url).status_code
    except Exception as exc:  # noqa: BLE001 - every exception is a finding of the crawl
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


@pytest.mark.parametrize("role", ROLES)
def test_no_page_answers_a_server_error(app, world, rows, client_for, role):
    user = {"secretariat": world.secretariat, "GZ": world.admins["GZ"], "finance": world.finance,
            "viewer": world.viewer}[role]
    client = client_for(user)
    views = views_of(app)
    assert set(views) == set(ALL_ENDPOINTS)
    salt = ROLES.index(role)
    failures = []
    for model, _, _ in VIEW_SPECS:
        endpoint = model.__tablename__
        view = views[endpoint]
        real_id = rows.of["GZ"].get(model)
        urls = (list_urls(endpoint, view, salt) + row_urls(endpoint, real_id, salt) + ajax_urls(endpoint, view, salt)
                + transition_urls(endpoint, view, salt))
        for url in urls:
            status = fetch(client, url)
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{status}  {url[:300]}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


def test_list_urls_carrying_the_transition_pages_own_words_do_not_fail(world, rows, client_for):
    """?url=, ?all=, ?ids=, ?action_name= on a list once crashed the 「对全部筛选结果执行」 menu (TypeError)."""
    client = client_for(world.secretariat)
    for query in ("url=/admin/", "all=1", "ids=1,2", "action_name=cancel", "url=/x&all=1&action_name=y"):
        for endpoint in ("person", "organization"):
            response = client.get(f"/admin/{endpoint}/?{query}")
            assert response.status_code == 200, (endpoint, query, response.status_code)
