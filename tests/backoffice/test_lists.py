"""List pages and CSV exports: what an agent sees in the rows, the count, and the file."""

import csv
import io
import re
from datetime import date, time

import pytest

from backoffice.admin.fastlist import counts, listing
from backoffice.models import RequestStatus


@pytest.fixture()
def booked(factories):
    """Three services on one day: two confirmed with a professional, one new."""
    day = date(2030, 3, 4)
    pro = factories.professional(name="Lucía Ferrer")
    ana = factories.client(name="Ana Ruiz")
    bad = factories.client(name="=cmd|' /C calc'!A0")
    first = factories.request(client=ana, professional=pro, day=day, start=time(9),
                              status=RequestStatus.CONFIRMED)
    second = factories.request(client=bad, professional=pro, day=day, start=time(14),
                               status=RequestStatus.CONFIRMED, skill="ironing")
    third = factories.request(client=ana, day=day, start=time(10))
    return first, second, third


def cells(html: str, row_id: int) -> dict[str, str]:
    """Return the cells of one list row by column, as the page shows them."""
    row = re.search(rf'value="{row_id}".*?</tr>', html, re.S).group(0)
    return dict(re.findall(r'<td class="col-([\w.]+)[^"]*">(.*?)</td>', row, re.S))


def test_list_rows_show_each_column_with_links_and_checkbox(client, logged_in, booked):
    logged_in("ops_agent")
    first, second, _ = booked
    html = client.get("/admin/service_request/?flt0_service_date_between=2030-03-04+to+"
                      "2030-03-04").get_data(as_text=True)
    row = cells(html, second.id)
    assert row["client.name"] == "=cmd|&#39; /C calc&#39;!A0"  # escaped, not markup
    assert (row["status"], row["skill"], row["window_start"], row["professional.name"]) == (
        "confirmed", "ironing", "14:00", "Lucía Ferrer")
    assert row["start_at"] == "04/03/2030 14:00"  # as Spain writes dates (#18)
    # Dates and times stay on one line; names wrap.
    assert '<td class="col-start_at text-nowrap">04/03/2030 14:00</td>' in html
    assert '<td class="col-service_date text-nowrap">' in html
    assert '<td class="col-client.name">' in html
    assert '/admin/service_request/details/?url=' in html
    assert re.search(rf'href="/admin/service_request/edit/\?url=[^"]*&amp;id={first.id}"', html)
    assert f'name="rowid" class="action-checkbox" value="{first.id}"' in html
    assert "List (3)" in html


def test_list_rows_follow_the_language(client, make_user, login, booked):
    login(make_user("ops_agent", locale="es"))
    first, _, _ = booked
    html = client.get("/admin/service_request/?flt0_service_date_between=2030-03-04+to+"
                      "2030-03-04").get_data(as_text=True)
    row = cells(html, first.id)
    assert row["status"] == "confirmado"
    assert row["skill"] == "limpieza"


def test_a_count_above_the_cap_is_shown_as_a_floor(client, logged_in, booked, monkeypatch):
    logged_in("ops_agent")
    monkeypatch.setattr(counts, "COUNT_CAP", 2)
    html = client.get("/admin/service_request/?flt0_service_date_between=2030-03-04+to+"
                      "2030-03-04").get_data(as_text=True)
    assert "List (2+)" in html


def test_export_streams_the_filtered_rows_in_order(client, logged_in, booked):
    logged_in("ops_agent")
    first, second, third = booked
    # The machine format (#18.4): column names, stored codes, moments to the second.
    resp = client.get("/admin/service_request/export/machine/?flt0_service_date_between="
                      "2030-03-04+to+2030-03-04&flt1_status_equal=CONFIRMED&sort=0")
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [first.id, second.id]
    assert rows[0]["client.name"] == "Ana Ruiz"
    assert rows[1]["client.name"] == "'=cmd|' /C calc'!A0"  # neutralised formula
    assert rows[1]["professional.name"] == "Lucía Ferrer"
    assert (rows[1]["status"], rows[1]["skill"], rows[1]["start_at"]) == (
        "confirmed", "ironing", "2030-03-04T14:00:00")
    assert rows[0]["cancellation_reason"] == ""
    assert str(third.id) not in {r["id"] for r in rows}


def test_export_reads_columns_or_falls_back_to_objects(app, client, logged_in, booked):
    """The column path and the model-object path write the same cells."""
    logged_in("ops_agent")
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "service_request")
    names = [c[0] for c in view._export_columns]
    with app.test_request_context("/admin/service_request/export/csv/"):
        _, query = super(listing.FastListMixin, view).get_list(
            0, None, False, None, [], execute=False, page_size=0)
        fast = list(view.export_values(query, names))
        slow = [[listing.neutralise(view.get_export_value(r, n)) for n in names]
                for r in view.export_rows(query)]
    assert view._export_select(names) is not None
    assert sorted(fast) == sorted(slow)
    assert len(fast) >= 3


@pytest.mark.parametrize(("value", "cell"), [
    ("-0.376", "-0.376"), ("-12", "-12"), ("=1+2", "'=1+2"), ("-1+2", "'-1+2"),
    ("+34 600 000 000", "'+34 600 000 000"), ("@SUM(A1)", "'@SUM(A1)"), ("Ana", "Ana"),
])
def test_formula_signs_are_neutralised_but_numbers_stay_numbers(value, cell):
    assert listing.neutralise(value) == cell


def _counts(session, *clients) -> list[int]:
    import sqlalchemy as sa

    from backoffice.models import Client

    table = Client.__table__
    found = dict(session.execute(sa.select(table.c.id, table.c.request_count)
                                 .where(table.c.id.in_([c.id for c in clients]))).all())
    return [found[c.id] for c in clients]


def test_each_client_request_count_is_kept_by_the_database(session, factories):
    ana, eva = factories.client(name="Ana Ruiz"), factories.client(name="Eva Sanz")
    assert _counts(session, ana, eva) == [0, 0]
    first = factories.request(client=ana)
    factories.request(client=ana)
    factories.request(client=eva)
    assert _counts(session, ana, eva) == [2, 1]
    first.client = eva  # a request moved to another client
    session.flush()
    assert _counts(session, ana, eva) == [1, 2]
    first.duration_min = 90  # other changes leave the counts alone
    session.flush()
    assert _counts(session, ana, eva) == [1, 2]
    session.delete(first)
    session.flush()
    assert _counts(session, ana, eva) == [1, 1]


def test_a_search_by_client_name_counts_their_requests(client, logged_in, factories):
    roca = [factories.client(name=f"Marta Roca {i}") for i in range(3)]
    other = factories.client(name="Eva Sanz")
    for i, c in enumerate(roca * 3 + [other] * 2):
        factories.request(client=c, day=date(2030, 3, 4 + i % 5),
                          status=RequestStatus.CONFIRMED if i % 2 else RequestStatus.NEW)
    logged_in("ops_agent")
    html = client.get("/admin/service_request/?search=roca").get_data(as_text=True)
    assert "List (9)" in html
    assert html.count('class="action-checkbox"') == 9
    # With a filter as well, the figure is counted from the requests themselves.
    html = client.get("/admin/service_request/?search=roca&flt0_status_equal=CONFIRMED"
                      ).get_data(as_text=True)
    assert "List (4)" in html
    assert html.count('class="action-checkbox"') == 4
    html = client.get("/admin/client/?search=roca").get_data(as_text=True)
    assert html.count('<td class="col-request_count">3</td>') == 3


def _filter_menu(html: str) -> dict:
    """Return the filter menu the list page offers: {label: [{arg, options, ...}, ...]}."""
    import html as html_lib
    import json

    data = re.search(r'id="filter-groups-data"[^>]*>(.*?)</', html, re.S).group(1)
    return json.loads(html_lib.unescape(data))


def test_a_status_chosen_in_the_filter_menu_filters_the_list(client, make_user, login,
                                                               booked):
    """The status filter offers its options by name and in the reader's language; the value a
    choice puts in the URL filters the list (it used to answer with a server error)."""
    login(make_user("ops_agent", locale="es"))
    first, second, third = booked
    day = "flt1_service_date_between=2030-03-04+to+2030-03-04"
    menu = _filter_menu(client.get("/admin/service_request/").get_data(as_text=True))
    status = next(f for f in menu["Estado"] if f["arg"] == "status_equal")
    assert ["CONFIRMED", "confirmado"] in status["options"]
    for value in ("CONFIRMED", "confirmed"):  # as the menu puts it, or as it is stored
        resp = client.get(f"/admin/service_request/?flt0_status_equal={value}&{day}")
        assert resp.status_code == 200
        shown = set(map(int, re.findall(r'name="rowid"[^>]*value="(\d+)"', resp.get_data(
            as_text=True))))
        assert shown == {first.id, second.id}
    # A hand-edited value that is no status is no filter: the page still answers.
    resp = client.get(f"/admin/service_request/?flt0_status_equal=bogus&{day}")
    assert resp.status_code == 200
    assert len(re.findall(r'name="rowid"', resp.get_data(as_text=True))) == 3


def test_every_option_of_every_filter_menu_opens_its_list(app, client, logged_in):
    """Walk each list of the panel as admin and choose the first option of each filter that
    offers options: every one answers with its list."""
    logged_in("admin")
    lists = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if rule.endpoint.endswith(".index_view") and rule.rule.count("/") == 3})
    tried = 0
    for url in lists:
        resp = client.get(url)
        if resp.status_code != 200 or b"filter-groups-data" not in resp.data:
            continue
        for group in _filter_menu(resp.get_data(as_text=True)).values():
            for flt in group:
                if not flt.get("options"):
                    continue
                value = flt["options"][0][0]
                answer = client.get(f"{url}?flt0_{flt['arg']}={value}")
                assert answer.status_code == 200, (url, flt["arg"], value)
                tried += 1
    assert tried >= 20


def test_a_task_links_to_what_it_is_about_when_the_reader_may_open_it(client, session,
                                                                      logged_in, factories):
    from backoffice.models import Task

    request = factories.request()
    session.add_all([
        Task(role="ops_agent", kind="service_at_risk", title="Re-cover it",
             entity="service_request", entity_id=str(request.id)),
        Task(role="ops_agent", kind="dunning_call", title="Call about F2031-000007",
             entity="billing_invoice", entity_id="7"),
    ])
    session.flush()
    logged_in("ops_agent")
    html = client.get("/admin/task/").get_data(as_text=True)
    assert (f'<a href="/admin/service_request/details/?id={request.id}">'
            f"Service request: {request.service_date:%d/%m} 09:00, {request.client.name}</a>"
            ) in html
    # Invoices are finance's: an agent reads which one, with no link that would be refused.
    assert "<td class=\"col-entity\">Invoice #7</td>" in html
    assert "/admin/billing_invoice/details/" not in html
    rows = list(csv.reader(io.StringIO(client.get("/admin/task/export/machine/").get_data(
        as_text=True))))
    assert ["service_request", str(request.id)] in [row[6:8] for row in rows]


def test_exported_moments_are_written_to_the_second(client, logged_in, factories, session):
    made = factories.client(name="Inés Segundo")
    session.flush()
    logged_in("ops_agent")
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/admin/client/export/machine/?search=Segundo").get_data(as_text=True))))
    assert [r["id"] for r in rows] == [str(made.id)]
    assert rows[0]["created_at"] == made.created_at.isoformat("T", "seconds")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", rows[0]["created_at"])


HAND_EDITED = ["page=abc", "page=-5", "page=99999999", "sort=99", "sort=abc", "desc=x",
               "page_size=100000", "page_size=abc", "search=%25%5F%5C'%22",
               "flt0_service_date_between=garbage", "flt0_service_date_between=2026-13-45+to+x",
               "flt0_created_at_between=x", "flt0_id_equal=abc", "flt0_status_equal=",
               "flt9999_x=1", "flt0_zone_like=" + "a" * 5000,
               "flt0_client_id_equal=99999999999999999999", "flt0_id_in_list=1,zz"]


def test_hand_edited_list_addresses_answer_with_a_list(app, client, session, logged_in,
                                                       factories):
    """Every list, with a page, sort, size, search or filter argument typed by hand (not a
    number, out of range, unknown, huge), answers with a page: an argument it cannot read is
    left out, as Flask-Admin does, never a server error (a twenty-digit id was one)."""
    factories.request(professional=factories.professional())
    session.commit()
    logged_in("admin")
    lists = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if rule.endpoint.endswith(".index_view") and rule.rule.count("/") == 3})
    answers = {(url, query): client.get(f"{url}?{query}").status_code
               for url in lists for query in HAND_EDITED}
    assert {key: code for key, code in answers.items() if code not in (200, 302)} == {}
    assert len(answers) > 100


def test_hand_edited_page_addresses_answer_with_a_page(client, session, logged_in, factories):
    """The panel's own pages, with a record number beyond any database integer or arguments
    typed by hand, answer with a page or 'page not found', never a server error."""
    factories.request(professional=factories.professional())
    session.commit()
    logged_in("admin")
    huge = "99999999999999999999"
    urls = [f"/admin/coverage/run/{huge}", f"/admin/coverage/request/{huge}",
            f"/admin/vetting/application/{huge}", f"/admin/vetting/document/{huge}/download",
            f"/admin/billing_invoice/details/?id={huge}", "/admin/coverage/what-if?from=x&to=y",
            "/admin/vetting/?stage=nope", "/admin/vetting/funnel?weeks=abc",
            "/admin/vetting/funnel?weeks=-1", "/admin/billing_reports/?as_of=2026-02-30",
            "/admin/billing_reports/?format=x", "/admin/billing_calls/?page=-1"]
    answers = {url: client.get(url).status_code for url in urls}
    assert {url: code for url, code in answers.items() if code not in (200, 302, 400, 404)} == {}
    assert answers[f"/admin/coverage/run/{huge}"] == 404
