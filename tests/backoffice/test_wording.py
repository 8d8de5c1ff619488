"""The reader's formats and words (#18): money, counts, clock, CSV, task texts, bad settings."""

import csv
import io
import logging
from datetime import date, datetime, time

import sqlalchemy as sa

from backoffice import wording
from backoffice.models import Task


def test_money_and_counts_are_written_as_each_language_writes_them():
    assert wording.euros(340000, "es") == "3.400,00 €"
    assert wording.euros(340000, "en") == "€3,400.00"
    assert wording.euros(-1050, "es") == "-10,50 €"
    assert wording.number(1905, "es") == "1.905"
    assert wording.number(1905, "en") == "1,905"


def test_shares_and_measures_are_written_as_each_language_writes_them():
    assert wording.percent(99.14, locale="es") == "99,1\u00a0%"
    assert wording.percent(99.14, locale="en") == "99.1%"
    assert wording.decimal(1234.56, 1, "es") == "1.234,6"
    assert wording.decimal(1234.56, 1, "en") == "1,234.6"


def test_a_changed_rating_or_coordinate_reads_with_the_readers_decimal_mark(app):
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert wording.audit_value(4.5, "rating") == "4,5"
        assert wording.audit_value(39.4699, "lat") == "39,4699"


def test_the_crawl_reads_a_decimal_point_on_a_spanish_page_as_a_wrong_format():
    from tests.backoffice.wording_support import Reader

    reader = Reader("es", proper_nouns=[], codes=set())
    found = reader.problems("<p>Cobertura 99.1%</p><p>1.905 servicios, 99,1 %</p>")
    assert found == {"number format": {"99.1 ← Cobertura 99.1%"}}


def test_a_stored_moment_reads_on_the_team_clock(app):
    with app.app_context():
        # 14:36 UTC in December is 15:36 in Madrid; in July 16:36.
        assert wording.local_time(datetime(2026, 12, 7, 14, 36)) == "07/12/2026 15:36"
        assert wording.local_time(datetime(2026, 7, 7, 14, 36), "%H:%M") == "16:36"
        assert wording.local_time("2026-12-07T14:36:00") == "07/12/2026 15:36"


def test_an_unknown_language_or_zone_falls_back_and_says_so_once(
    caplog, database_url, tmp_path, mail_sink
):
    from backoffice.app import create_app
    from tests.conftest import test_config

    config = {
        **test_config(database_url, mail_sink, tmp_path),
        "BABEL_DEFAULT_LOCALE": "xx",
        "BABEL_DEFAULT_TIMEZONE": "Mars/Olympus",
    }
    with caplog.at_level(logging.WARNING, logger="backoffice.wording"):
        app = create_app(config, panel=False)
        create_app(config, panel=False)
    assert app.config["BABEL_DEFAULT_LOCALE"] == "es"
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Europe/Madrid"
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("'xx'" in w for w in warnings) == 1
    assert sum("'Mars/Olympus'" in w for w in warnings) == 1
    assert wording.known_locale("en_GB") == "en"


def test_a_spanish_spreadsheet_gets_semicolons_decimal_commas_and_a_bom():
    body = "".join(
        wording.spreadsheet_csv(["Factura", "Importe"], [["D1", 34.0], ["D2", 2.5]], "es")
    )
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows == [["Factura", "Importe"], ["D1", "34,00"], ["D2", "2,50"]]
    english = "".join(wording.spreadsheet_csv(["Invoice", "Amount"], [["D1", 34.0]], "en"))
    assert not english.startswith("\ufeff") and "D1,34.00" in english


def test_an_invoice_list_exports_for_the_readers_spreadsheet_or_for_a_machine(
    client, session, factories, make_user, login
):
    from billing.models import Invoice

    customer = factories.client()
    session.add(
        Invoice(
            series="D2026",
            number=1,
            client_id=customer.id,
            bill_to_name=customer.name,
            period_start=date(2026, 9, 1),
            period_end=date(2026, 9, 30),
            issued_on=date(2026, 10, 1),
            due_on=date(2026, 10, 8),
            subtotal_cents=280000,
            vat_cents=58800,
            total_cents=338800,
        )
    )
    session.commit()
    assert login(make_user("finance", locale="es")).status_code == 302
    sheet = client.get("/admin/billing_invoice/export/csv/").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(sheet.lstrip("\ufeff")), delimiter=";"))
    assert sheet.startswith("\ufeff") and "Total" in rows[0]
    assert rows[1][rows[0].index("Total")] == "3388,00"  # euros, decimal comma
    machine = client.get("/admin/billing_invoice/export/machine/").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(machine)))
    assert not machine.startswith("\ufeff") and "338800" in rows[1]  # cents, comma


def test_a_task_a_job_wrote_reads_in_each_readers_language(
    app, client, session, factories, make_user, login, monkeypatch
):
    """The job writes the task once (in the team's Spanish); an English reader reads English,
    a Spanish reader Spanish; a task written before #18 still reads as stored."""
    from vetting import compliance

    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "es")
    pro = factories.professional()
    factories.request(professional=pro, day=date(2031, 12, 2), start=time(9))
    compliance.on_professional_suspended(session, pro.id, datetime(2031, 12, 1))
    session.add(Task(role="ops_agent", kind="manual", title="Llamar a Pepe"))  # an old row
    session.commit()
    task = session.scalars(sa.select(Task).where(Task.kind == "service_at_risk")).one()
    assert task.message["title"][0] == (
        "%(client)s's service on %(start)s needs another professional"
    )
    assert task.title.startswith("El servicio de")  # the team's language, for searches
    english = make_user("ops_agent", locale="en")
    assert login(english).status_code == 302
    page = client.get("/admin/task/queue/").get_data(as_text=True)
    assert "service on 02/12 09:00 needs another professional" in page
    assert "Llamar a Pepe" in page
    session.execute(
        sa.update(type(english)).where(type(english).id == english.id).values(locale="es")
    )
    session.commit()
    page = client.get("/admin/task/queue/").get_data(as_text=True)
    assert "del 02/12 09:00 necesita otro profesional" in page


def test_labels_worded_for_one_reader_are_not_served_to_the_next(
    client, session, factories, make_user, login
):
    """Stored codes named once per request stay in that reader's language: an English reader
    after a Spanish one (the same app context, as the test client keeps it) reads English."""
    from backoffice.models import RequestStatus

    factories.request(status=RequestStatus.CONFIRMED)
    spanish, english = make_user("ops_agent", locale="es"), make_user("ops_agent", locale="en")
    session.commit()
    assert login(spanish).status_code == 302
    assert ">confirmado<" in client.get("/admin/service_request/").get_data(as_text=True)
    assert login(english).status_code == 302
    page = client.get("/admin/service_request/").get_data(as_text=True)
    assert ">confirmed<" in page and ">confirmado<" not in page
