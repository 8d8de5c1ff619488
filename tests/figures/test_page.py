"""The figures page: who may open it, what it reads in Spanish, its CSV in two formats, and the
drill-down from a bar to the cases behind it."""

import csv
import html
import io
from datetime import timedelta

import pytest

from backoffice.db import utcnow
from figures import rollup, service
from tests.figures.conftest import NOW, W1, W2

URL = f"/admin/figures/?weeks=4&until={W2 + timedelta(days=6)}"


@pytest.fixture()
def refreshed(session, world):
    service.refresh(session, now=NOW, since=W1)
    return world


@pytest.mark.parametrize(("role", "status"), [("ops_agent", 200), ("admin", 200),
                                              ("finance", 403), ("vetting", 403)])
def test_ops_and_admin_open_the_page_others_are_refused(client, logged_in, refreshed, role,
                                                        status):
    logged_in(role)
    assert client.get(URL).status_code == status
    assert client.get(URL.replace("/?", "/export.csv?")).status_code == status


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/admin/figures/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_spanish_page_reads_spanish_with_its_formats(client, make_user, login, refreshed):
    user = make_user("ops_agent", locale="es")
    login(user)
    page = client.get(URL).get_data(as_text=True)
    assert "Cifras de operaciones" in page
    assert "66,7 %" in page  # W1's CSAT: two 4-5 of three answers
    assert "75,00 €" in page  # the covered services of W1: 30 + 20 + 25 euros
    assert "Tiempo hasta cubrir" in page and "Cambio de reserva" in page
    assert "limpieza" in page  # the skill, named
    assert refreshed.a.name in page and refreshed.p1.name in page  # an agent, a professional
    assert "<svg" in page and "chart-quality" in page and "<script" not in page.split(
        "chart-quality")[1].split("</svg>")[0]


def test_the_english_page_reads_english(client, make_user, login, refreshed):
    login(make_user("ops_agent", locale="en"))
    page = client.get(URL).get_data(as_text=True)
    assert "Operations figures" in page and "66.7%" in page and "€75.00" in page


def test_the_page_says_when_its_figures_were_refreshed(client, make_user, login, session,
                                                       world):
    """Read from the stored period's series (the refresh's moment), or else the watermarks."""
    service.refresh(session, now=NOW - timedelta(days=2), since=W1)
    service.refresh(session, now=NOW)  # the latest: its moment is the one shown
    login(make_user("ops_agent", locale="es"))
    # NOW is 10:00 UTC, 11:00 in Madrid; the period of URL is stored, the one before is not.
    for url in (URL, f"/admin/figures/?weeks=4&until={W1}"):
        page = client.get(url).get_data(as_text=True)
        assert f"Cifras actualizadas el {NOW:%d/%m/%Y} 11:00." in page


def test_bad_input_is_named_and_the_page_still_shows(client, logged_in, refreshed):
    logged_in("ops_agent")
    resp = client.get("/admin/figures/?weeks=999&until=tomorrow", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "weeks: choose 4, 8, 12, 26 or 52 weeks" in page
    assert "Until: “tomorrow” is not a date; write it as dd/mm/yyyy" in html.unescape(page)


def test_csv_for_a_spanish_spreadsheet(client, make_user, login, refreshed):
    login(make_user("ops_agent", locale="es"))
    resp = client.get(URL.replace("/?", "/export.csv?") + "&format=es")
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Sección", "Semana", "Dimensión", "Clave", "Nombre", "Cifra", "Valor"]
    csat = [r for r in rows if r[1] == "16/11/2026" and r[5] == "CSAT (4 y 5)"]
    assert csat[0][6] == "66,67"
    booked = [r for r in rows if r[1] == "16/11/2026" and r[5].startswith("Valor de los")]
    assert booked[0][6] == "75,00"


def test_csv_for_a_machine(client, logged_in, refreshed):
    logged_in("ops_agent")
    resp = client.get(URL.replace("/?", "/export.csv?") + "&format=machine")
    text = resp.get_data(as_text=True)
    assert not text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["section", "week", "dimension", "key", "name", "figure", "value"]
    by = {(r["section"], r["week"], r["dimension"], r["key"], r["figure"]): r["value"]
          for r in rows}
    assert by[("weekly", "2026-11-16", "all", "", "csat_rate")] == "0.6667"
    assert by[("weekly", "2026-11-16", "all", "", "booked_eur")] == "75.00"
    assert by[("weekly", "2026-11-16", "all", "", "first_response_median_min")] == "30"
    assert by[("issues", "2026-11-16", "category", "booking_change", "cases")] == "2"


def test_a_bar_opens_the_cases_behind_it(client, logged_in, refreshed):
    logged_in("ops_agent")
    page = client.get(URL).get_data(as_text=True)
    link = f"/admin/figures/cases?week={W1}&amp;dim=category&amp;key=booking_change"
    assert link in page
    drill = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert f"C-{refreshed.c1.id:06d}" in drill and f"C-{refreshed.c2.id:06d}" in drill
    assert f"C-{refreshed.c3.id:06d}" not in drill  # a cancellation
    assert f"C-{refreshed.c5.id:06d}" not in drill  # the week after
    category = refreshed.cat["booking_change"].id
    assert f"/admin/cases/?tab=all&amp;category={category}" in drill
    tag = client.get(f"/admin/figures/cases?week={W2}&dim=tag&key=late").get_data(as_text=True)
    assert f"C-{refreshed.c5.id:06d}" in tag and f"C-{refreshed.c2.id:06d}" not in tag
    assert "/admin/cases/?tab=all&amp;tag=late" in tag
    assert client.get("/admin/figures/cases?week=nonsense&dim=x").status_code == 200


def test_the_page_before_any_refresh_says_so(client, logged_in):
    logged_in("ops_agent")
    page = client.get("/admin/figures/").get_data(as_text=True)
    assert "The figures have not been computed yet." in page
    assert rollup.monday(rollup.local_day(utcnow())).strftime("%d/%m") in page
