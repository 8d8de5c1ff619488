"""The list page around its rows: tabs, filters, sort links, pager, actions."""

import html as htmllib
import json
import re
from datetime import date, time
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import url_for

from backoffice.admin.fastlist.page import ListUrls, pager_pages
from backoffice.models import RequestStatus
from tests.conftest import PASSWORD, csrf_from

DAY = "flt0_service_date_between=2030-05-06+to+2030-05-06"


@pytest.fixture()
def day_of_45(factories):
    """Forty-five services on one day, one client, every third confirmed."""
    client = factories.client(name="Marta Soler")
    return [factories.request(client=client, day=date(2030, 5, 6), start=time(8 + i % 10),
                              status=RequestStatus.CONFIRMED if i % 3 == 0 else RequestStatus.NEW)
            for i in range(45)]


def links(page: str, pattern: str) -> list[dict]:
    """Return the query arguments of every href on the page whose text matches pattern."""
    found = re.findall(r'<a[^>]*href="([^"]+)"[^>]*>\s*(' + pattern + r')\s*(?:<|$)', page)
    return [dict(parse_qsl(urlsplit(htmllib.unescape(h)).query)) for h, _ in found]


def test_pager_keeps_filters_search_and_sort(client, logged_in, day_of_45):
    logged_in("ops_agent")
    page = client.get(f"/admin/service_request/?{DAY}&search=Soler&sort=1&page=1").get_data(
        as_text=True)
    assert "List (45)" in page
    assert 'class="page-item active"><a class="page-link" aria-disabled="true">2<' in page
    third = links(page, "3")[0]
    assert third == {"flt0_service_date_between": "2030-05-06 to 2030-05-06",
                     "search": "Soler", "sort": "1", "page": "2", "page_size": "20"}
    first = links(page, "1")[0]
    assert "page" not in first and first["search"] == "Soler"
    assert len(re.findall(r'<tr><td><input type="checkbox" name="rowid"', page)) == 20
    export = re.search(r'<a class="dropdown-item" href="([^"]+/export/csv/[^"]*)"', page).group(1)
    assert export.startswith("/admin/service_request/export/csv/?")
    lines = client.get(htmllib.unescape(export)).get_data(as_text=True).splitlines()
    assert len(lines) == 1 + 45  # the header, then every match: not just this page


def test_sort_links_keep_the_filter_and_reverse_the_current_column(client, logged_in, day_of_45):
    logged_in("ops_agent")
    page = client.get(f"/admin/service_request/?{DAY}&sort=1&desc=1").get_data(as_text=True)
    date_link = re.search(r'<a href="([^"]+)" title="Sort by Date">', page).group(1)
    args = dict(parse_qsl(urlsplit(htmllib.unescape(date_link)).query))
    assert args == {"sort": "1", "flt0_service_date_between": "2030-05-06 to 2030-05-06",
                    "page_size": "20"}  # currently descending: the link sorts ascending
    status_link = re.search(r'<a href="([^"]+)" title="Sort by Status">', page).group(1)
    assert "sort=6" in status_link and "desc" not in status_link
    assert "Reset Filters" in page


def test_links_are_the_ones_flask_admin_would_build(app, client, logged_in, day_of_45):
    logged_in("ops_agent")
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "service_request")

    def expected(a) -> str:
        return url_for("service_request.index_view", page=a.page or None, sort=a.sort,
                       desc=1 if a.sort_desc else None, search=a.search,
                       page_size=view.get_safe_page_size(a.page_size),
                       **view._get_filters(a.filters))

    for path in (f"/admin/service_request/?{DAY}&search=Marta Soler&sort=1&desc=1&page=2"
                 "&page_size=50", "/admin/service_request/", "/admin/service_request/?sort=0"):
        with app.test_request_context(path):
            args = view._get_list_extra_args()
            for changed in ({}, {"page": 0}, {"sort": 3, "sort_desc": None}, {"search": None},
                            {"filters": None}, {"page_size": 100}):
                assert view._get_list_url(args.clone(**changed)) == expected(
                    args.clone(**changed))
            # Each link of the page is the list's URL with one argument changed.
            urls = ListUrls(view, args)
            assert urls.current() == expected(args)
            assert urls.page(0) == expected(args.clone(page=0))
            assert urls.page(7) == expected(args.clone(page=7))
            assert urls.sort(3) == expected(args.clone(sort=3, sort_desc=None))
            assert urls.sort(1, True) == expected(
                args.clone(sort=1, sort_desc=None if args.sort_desc else 1))
            assert urls.size(100) == expected(args.clone(page_size=100))
            assert urls.clear_search() == expected(args.clone(page=0, search=None,
                                                              filters=None))


def test_filter_menu_and_actions_follow_role_and_language(client, make_user, login, day_of_45):
    login(make_user("ops_agent", locale="es"))
    page = client.get("/admin/client/").get_data(as_text=True)
    assert "Añadir filtro" in page and "Con seleccionados" in page and "Ordenar por Nombre" in page
    assert 'data-model-action="block"' in page
    groups = json.loads(htmllib.unescape(re.search(
        r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1)))
    assert {"Estado", "Idioma", "Zona"} <= set(groups)
    assert sorted(re.findall(r'class="dropdown-item filter"[^>]*>([^<]*)<', page)) == sorted(groups)


def test_a_read_only_role_sees_no_create_nor_bulk_actions(app, client, make_user, login,
                                                          factories):
    factories.client(name="Pepa Climent")
    login(make_user("finance", locale="en"))  # reads clients, changes nothing
    page = client.get("/admin/client/").get_data(as_text=True)
    assert "Add Filter" in page
    assert ">Create<" not in page and "With selected" not in page
    assert 'id="action_form"' not in page and 'name="rowid"' not in page

    agent = make_user("ops_agent", locale="en")  # same language, other role, same process
    other = app.test_client()
    token = csrf_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"email": agent.email, "password": PASSWORD, "csrf_token": token})
    page = other.get("/admin/client/").get_data(as_text=True)
    assert ">Create<" in page and "With selected" in page and 'name="rowid"' in page


def test_bulk_action_from_the_list_form(client, session, logged_in, day_of_45):
    logged_in("ops_agent")
    page = client.get(f"/admin/service_request/?{DAY}").get_data(as_text=True)
    form = re.search(r'<form id="action_form" action="([^"]+)".*?</form>', page, re.S)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0)).group(1)
    targets = [r.id for r in day_of_45 if r.status == RequestStatus.NEW][:2]
    resp = client.post(form.group(1), data={"csrf_token": token, "action": "cancel",
                                            "url": f"/admin/service_request/?{DAY}",
                                            "rowid": targets})
    assert resp.status_code == 302
    session.expire_all()
    assert [r.status for r in day_of_45 if r.id in targets] == [RequestStatus.CANCELLED] * 2


def test_a_view_without_counts_pages_by_previous_and_next(app, client, logged_in, day_of_45,
                                                         monkeypatch):
    logged_in("ops_agent")
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "service_request")
    monkeypatch.setattr(view, "simple_list_pager", True)
    page = client.get(f"/admin/service_request/?{DAY}&page=1").get_data(as_text=True)
    assert "List (" not in page
    assert len(re.findall(r'name="rowid"', page)) == 20
    pager = re.search(r'<ul class="pagination">.*?</ul>', page, re.S).group(0)
    assert [a.get("page") for a in links(pager, "&lt;|&gt;")] == [None, "2"]
    last = client.get(f"/admin/service_request/?{DAY}&page=2").get_data(as_text=True)
    assert len(re.findall(r'name="rowid"', last)) == 5


def test_an_empty_filter_shows_the_empty_message_and_no_pager(client, logged_in):
    logged_in("ops_agent")
    page = client.get("/admin/service_request/?flt0_service_date_between=1999-01-01+to+"
                      "1999-01-02").get_data(as_text=True)
    assert "There are no items in the table." in page
    assert 'class="pagination"' not in page and "List (" not in page


@pytest.mark.parametrize(("page", "pages", "shown"), [
    (0, 1, [0]), (0, 10, [0, 1, 2, 3, 4, 5, 6]), (5, 10, [2, 3, 4, 5, 6, 7, 8]),
    (9, 10, [3, 4, 5, 6, 7, 8, 9]), (1999, 50000, list(range(1996, 2003))),
])
def test_pager_window(page, pages, shown):
    assert list(pager_pages(page, pages)) == shown


@pytest.mark.parametrize("link", [
    "/admin/service_request/details/?id=abc", "/admin/service_request/edit/?id=12x",
    "/admin/client/details/?id=-4", "/admin/client/details/?id=99999999999999999999999",
    "/admin/service_request/details/?id=999999999",
])
def test_a_bad_record_link_says_the_record_does_not_exist(client, logged_in, link):
    logged_in("ops_agent")
    resp = client.get(link, follow_redirects=True)
    assert resp.status_code == 200
    assert "Record does not exist." in resp.get_data(as_text=True)


def test_record_page_shows_related_rows_by_name(client, logged_in, factories):
    logged_in("ops_agent")
    pro = factories.professional(name="Nieves Pardo")
    req = factories.request(client=factories.client(name="Marta Soler"), professional=pro,
                            day=date(2030, 5, 6), start=time(9),
                            status=RequestStatus.CONFIRMED)
    page = client.get(f"/admin/service_request/details/?id={req.id}").get_data(as_text=True)
    fields = dict(re.findall(r"<tr><td><b>([^<]+)</b></td><td>([^<]*)</td></tr>", page))
    assert fields["Client"] == "Marta Soler"
    assert fields["Professional"] == "Nieves Pardo"
    assert fields["Preferred Professional"] == ""
    assert fields["Id"] == str(req.id)
    assert fields["Status"] == "confirmed"


def test_a_task_of_another_team_is_not_shown_by_id(client, session, logged_in):
    from backoffice.models import Task

    theirs = Task(role="finance", kind="call", title="Call about invoice 12")
    ours = Task(role="vetting", kind="document", title="Chase the ID copy")
    session.add_all([theirs, ours])
    session.flush()
    logged_in("vetting")
    page = client.get(f"/admin/task/details/?id={ours.id}").get_data(as_text=True)
    assert "Chase the ID copy" in page
    for view in ("details", "edit"):
        resp = client.get(f"/admin/task/{view}/?id={theirs.id}", follow_redirects=True)
        text = resp.get_data(as_text=True)
        assert "Record does not exist." in text
        assert "Call about invoice 12" not in text


def test_label_columns_are_all_a_name_needs(session, factories, make_user):
    """A record page loads only __label_columns__ of a related row: __str__ must need no more."""
    import sqlalchemy as sa
    from sqlalchemy.orm import load_only

    from backoffice.admin.fastlist.rows import label_columns
    from backoffice.db import Base

    made = {"Client": factories.client(name="Marta Soler"),
            "Professional": factories.professional(name="Nieves Pardo"),
            "StaffUser": make_user("vetting")}
    session.flush()
    expected = {name: (row.id, str(row)) for name, row in made.items()}
    session.expire_all()  # loaded rows would otherwise keep every column
    checked = 0
    for mapper in Base.registry.mappers:
        model = mapper.class_
        columns = label_columns(model)
        if columns is None:
            continue
        if model.__name__ not in expected:
            continue
        row_id, name = expected[model.__name__]
        row = session.scalars(sa.select(model).options(load_only(*columns))
                              .where(model.id == row_id)).one()
        session.expunge(row)  # a column __str__ needs beyond these now fails to load
        assert str(row) == name
        if len(columns) == 1:  # a plain record page shows the column itself
            assert str(getattr(row, columns[0].key)) == name
        checked += 1
    assert checked == len(made)


@pytest.mark.parametrize("endpoint", ["service_request", "client"])
def test_plain_rows_show_what_model_rows_show(app, client, logged_in, factories, monkeypatch,
                                              endpoint):
    """The lists read as plain columns render each cell as the model objects did."""
    pro = factories.professional(name="Nieves Pardo")
    for i, name in enumerate(["Ana <b>Roca</b>", "=HYPERLINK(x)", "Marta Soler"]):
        factories.request(client=factories.client(name=name), day=date(2030, 5, 6),
                          start=time(8 + i), professional=pro if i != 1 else None,
                          status=RequestStatus.CONFIRMED if i != 1 else RequestStatus.NEW)
    logged_in("ops_agent")
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == endpoint)
    assert view.plain_rows

    def rows() -> list[str]:
        page = client.get(f"/admin/{endpoint}/?search=").get_data(as_text=True)
        page = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", page)
        return re.findall(r"<tr><td>.*?</tr>", page)

    plain = rows()
    monkeypatch.setattr(view, "plain_rows", False)
    assert rows() == plain
    assert len(plain) >= 3
    assert any("Ana &lt;b&gt;Roca&lt;/b&gt;" in r for r in plain)


@pytest.mark.parametrize("endpoint", ["service_request", "client"])
def test_plain_record_page_shows_what_the_model_shows(app, client, logged_in, factories,
                                                      monkeypatch, endpoint):
    pro = factories.professional(name="Nieves <i>Pardo</i>")
    shown = factories.request(client=factories.client(name="Ana Roca"), day=date(2030, 5, 6),
                              start=time(9), professional=pro,
                              status=RequestStatus.CONFIRMED)
    shown.preferred_professional = pro
    factories.session.flush()
    factories.session.expire_all()  # counts the database keeps (request_count) read afresh
    logged_in("ops_agent")
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == endpoint)
    assert view.plain_rows and view._plain_record() is not None
    record_id = shown.id if endpoint == "service_request" else shown.client_id

    def page() -> str:
        html = client.get(f"/admin/{endpoint}/details/?id={record_id}").get_data(as_text=True)
        html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
        return re.sub(r'nonce="[^"]*"', "", html)  # a new nonce on every page

    plain = page()
    monkeypatch.setattr(view, "plain_rows", False)
    assert page() == plain
    assert "Ana Roca" in plain
    history = plain[plain.index('class="table table-sm table-striped audit-history"'):]
    assert ">created<" in history  # the audit's verb, worded (#18)
    if endpoint == "service_request":
        assert plain.count("Nieves &lt;i&gt;Pardo&lt;/i&gt;") == 2


# --- plain views: Flask-Admin's own pages keep what the panel relies on ---------------------

def test_no_list_of_the_panel_carries_an_inline_handler(app, client, logged_in, factories):
    """The Content-Security-Policy refuses inline handlers: every list, fast or plain, asks
    panel.js through data- attributes (the bulk actions, the delete confirmation)."""
    factories.request(professional=factories.professional())
    logged_in("admin")
    lists = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if rule.endpoint.endswith(".index_view") and rule.rule.count("/") == 3})
    pages = {url: client.get(url).get_data(as_text=True) for url in lists}
    assert {url for url, page in pages.items() if re.search(r"\son[a-z]+=", page)} == set()
    page = pages["/admin/professional/"]
    assert 'data-model-action="suspend"' in page
    assert re.search(r'<button data-confirm="Are you sure you want to delete this record\?"',
                     page)
    assert re.findall(r'<a href="#" class="dropdown-item filter">([^<]*)<', page)


def test_a_page_beyond_the_last_of_a_plain_list_shows_the_last_page(client, logged_in,
                                                                    factories):
    made = [factories.professional(name=f"Pro Beyond {i}") for i in range(25)]
    logged_in("ops_agent")
    page = client.get("/admin/professional/?search=Beyond&page=99999999999999999999"
                      "&page_size=20").get_data(as_text=True)
    shown = set(map(int, re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)))
    oldest_first = sorted(p.id for p in made)
    assert shown == set(oldest_first[:5])  # the list runs newest first: the last page's five
    assert 'class="page-item active"' in page
    active = re.search(r'<li class="page-item active">\s*<a class="page-link"[^>]*>(\d+)<', page)
    assert active.group(1) == "2"


def test_a_plain_list_and_record_read_in_the_readers_language(client, make_user, login,
                                                              factories):
    pro = factories.professional(name="Rosa Llopis", skills=("ironing",))
    login(make_user("ops_agent", locale="es"))
    page = client.get("/admin/professional/?search=Llopis").get_data(as_text=True)
    row = re.search(rf'value="{pro.id}".*?</tr>', page, re.S).group(0)
    assert '<td class="col-status">aprobado</td>' in row
    assert '<td class="col-skills">plancha</td>' in row
    assert "Añadir filtro" in page and "Con seleccionados" in page
    groups = json.loads(htmllib.unescape(re.search(
        r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page).group(1)))
    assert "Estado" in groups
    record = client.get(f"/admin/professional/details/?id={pro.id}").get_data(as_text=True)
    assert "<tr><td><b>Estado</b></td><td>aprobado</td></tr>" in record
    assert 'class="table table-sm table-striped audit-history"' in record


def test_a_plain_export_streams_is_audited_and_opens_safely(app, client, session, logged_in,
                                                            factories):
    import csv
    import inspect
    import io

    import sqlalchemy as sa

    from backoffice.models import AuditEvent

    factories.professional(name="=HYPERLINK(\"http://evil.example\")")
    factories.professional(name="Amparo Segura")
    logged_in("ops_agent")
    resp = client.get("/admin/professional/export/csv/?search=e")
    assert resp.is_streamed
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    names = {r["Name"] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\")" in names and "Amparo Segura" in names
    exported = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity == "professional")).all()
    assert [e.note for e in exported] == ["search=e"]
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "professional")
    with app.test_request_context("/admin/professional/export/csv/"):
        _, data = view.get_list(0, None, False, None, None, page_size=0)
        assert inspect.isgenerator(data)  # read in batches, never held whole
