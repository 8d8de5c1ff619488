"""The top-bar search: every kind of key finds its record, one match opens it, several make a
grouped list, and each reader sees only what their role may open."""

import re
from datetime import date

import pytest

from backoffice.search import classify, phone_prefix
from billing.models import Invoice, RectifyingInvoice
from cases import service as case_service


@pytest.fixture()
def invoice(session, factories):
    """Return an issued invoice D2026-987654 and its rectifying invoice R2026-987654."""
    client = factories.client(name="Facturada Ruiz")
    inv = Invoice(series="D2026", number=987654, client_id=client.id, bill_to_name=client.name,
                  period_start=date(2026, 1, 1), period_end=date(2026, 1, 31),
                  issued_on=date(2026, 2, 1), due_on=date(2026, 2, 8), subtotal_cents=4000,
                  vat_cents=840, total_cents=4840)
    session.add(inv)
    session.flush()
    rect = RectifyingInvoice(series="R2026", number=987654, invoice_id=inv.id,
                             issued_on=date(2026, 2, 10), reason="Servicio no prestado",
                             subtotal_cents=-4000, vat_rate_bp=2100, vat_cents=-840,
                             total_cents=-4840)
    session.add(rect)
    session.flush()
    return inv, rect


def search(client, q: str):
    return client.get("/admin/search/", query_string={"q": q})


def hits(resp) -> set[str]:
    return set(re.findall(r'data-hit="([a-z_]+:\d+)"', resp.get_data(as_text=True)))


def found(resp) -> set[str]:
    """Return what a search found: the page it opened, or the records listed."""
    if resp.status_code == 302:
        m = re.fullmatch(r"/admin/(\w+)/details/\?id=(\d+)", resp.headers["Location"])
        return {f"{m.group(1)}:{m.group(2)}"}
    return hits(resp)


@pytest.mark.parametrize("typed, kind, value", [
    ("C-000123", "case", 123), ("c123", "case", 123), ("C 42", "case", 42),
    ("D2026-000123", "invoice", ("D2026", 123)), ("r2026-7", "invoice", ("R2026", 7)),
    ("#123", "request", 123), ("# 0042", "request", 42), ("123", "number", 123),
    ("Ana.Ruiz@Example.COM", "email", "ana.ruiz@example.com"),
    ("600 11 22 33", "phone", "+34600112233"), ("+34 600112233", "phone", "+34600112233"),
    ("0034600112233", "phone", "+34600112233"), ("600112233", "phone", "+34600112233"),
    ("(+44) 20 7946 0958", "phone", "+442079460958"),
    ("600 11 2", "text", "600 11 2"), ("Ana  García", "text", "Ana García"),
    ("", "empty", None), ("  \x00 ", "empty", None),
])
def test_what_a_typed_key_is(typed, kind, value):
    key = classify(typed)
    assert key.kind == kind
    if kind == "invoice":
        assert (key.series, key.number) == value
    elif kind in ("case", "request", "number"):
        assert key.number == value
    elif kind == "phone":
        assert key.e164 == value
    elif kind != "empty":
        assert key.text == value
    assert key.phone_unrecognised == (typed == "600 11 2")


def test_a_case_number_opens_the_case(client, session, logged_in, factories):
    logged_in("ops_agent")
    case = case_service.open_case(session, subject="Cambio de hora", channel="mail",
                                  requester=factories.client(), offer=False)
    for typed in (f"C-{case.id:06d}", f"c{case.id}"):
        resp = search(client, typed)
        assert resp.status_code == 302
        assert resp.headers["Location"] == f"/admin/cases/{case.id}"


def test_invoice_numbers_open_the_invoice_for_finance(client, logged_in, invoice):
    inv, rect = invoice
    logged_in("finance")
    resp = search(client, "D2026-987654")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/admin/billing_invoice/details/?id={inv.id}"
    resp = search(client, "r2026-987654")
    assert resp.headers["Location"] == f"/admin/billing_rectifying_invoice/details/?id={rect.id}"


def test_a_request_number_opens_the_request(client, logged_in, factories):
    logged_in("ops_agent")
    req = factories.request()
    resp = search(client, f"#{req.id}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/admin/service_request/details/?id={req.id}"


def test_a_bare_number_looks_up_every_numbered_record(client, logged_in, factories):
    logged_in("ops_agent")
    req = factories.request()
    assert f"service_request:{req.id}" in found(search(client, str(req.id)))
    assert f"client:{req.client_id}" in found(search(client, str(req.client_id)))


def test_an_email_opens_its_client_whatever_the_case(client, logged_in, factories):
    logged_in("ops_agent")
    person = factories.client(email="ana.ruiz@example.com")
    resp = search(client, "  Ana.Ruiz@EXAMPLE.com ")
    assert resp.headers["Location"] == f"/admin/client/details/?id={person.id}"


@pytest.mark.parametrize("typed", ["600 11 22 33", "+34 600112233", "0034600112233",
                                   "600-112-233"])
def test_a_phone_in_any_format_finds_its_client(client, logged_in, factories, typed):
    logged_in("ops_agent")
    person = factories.client(name="Llamante Uno", phone="+34 600 11 22 33")
    resp = search(client, typed)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/admin/client/details/?id={person.id}"


def test_a_phone_shared_by_a_client_and_a_professional_lists_both(client, logged_in, factories):
    logged_in("ops_agent")
    person = factories.client(name="Compartido Cliente", phone="611 22 33 44")
    pro = factories.professional(name="Compartido Pro", phone="+34611223344")
    resp = search(client, "611223344")
    assert resp.status_code == 200
    assert hits(resp) == {f"client:{person.id}", f"professional:{pro.id}"}


def test_an_unrecognised_number_is_searched_as_text_and_said_so(client, logged_in, factories):
    """A number too short to be one is searched as the start of the numbers on file."""
    logged_in("ops_agent")
    person = factories.client(name="Número Parcial", phone="600 11 22 33")
    factories.client(name="Otro Número", phone="600 12 22 33")
    resp = search(client, "600 11 2")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'id="phone-unrecognised"' in text
    assert "600 11 2" in text
    assert hits(resp) == {f"client:{person.id}"}


@pytest.mark.parametrize("typed, start", [("600 11 2", "+34600112"), ("+44 20", "+4420"),
                                          ("0044 20", "+4420"), ("60", None), ("+3", None)])
def test_the_start_of_a_partly_typed_number(typed, start):
    assert phone_prefix(typed) == start


def test_one_letter_is_too_little_to_search_names(client, logged_in, factories):
    logged_in("ops_agent")
    factories.client(name="Mateo Solo")
    text = search(client, "m").get_data(as_text=True)
    assert 'id="too-short"' in text


def test_a_name_finds_by_prefix_then_by_any_word(client, logged_in, factories):
    logged_in("ops_agent")
    first = factories.client(name="Zebulón Martí")
    inner = factories.client(name="Ana Zebulón")
    pro = factories.professional(name="Zebulona Pérez")
    factories.client(name="Otro Nombre")
    resp = search(client, "zebul")
    text = resp.get_data(as_text=True)
    assert hits(resp) == {f"client:{first.id}", f"client:{inner.id}", f"professional:{pro.id}"}
    assert text.index(f"client:{first.id}") < text.index(f"client:{inner.id}")  # prefix first
    assert text.index('data-group="client"') < text.index('data-group="professional"')


def test_one_name_match_opens_the_page(client, logged_in, factories):
    logged_in("ops_agent")
    person = factories.client(name="Única Ximénez")
    # Not "única": SQLite's LIKE folds the case of ASCII letters only (PostgreSQL's all).
    resp = search(client, "Única xim")
    assert resp.headers["Location"] == f"/admin/client/details/?id={person.id}"


def test_a_large_group_is_capped_with_a_link_to_the_list(client, logged_in, factories):
    logged_in("ops_agent")
    for n in range(21):
        factories.client(name=f"Morcillo {n:02d}")
    resp = search(client, "Morcillo")
    text = resp.get_data(as_text=True)
    assert len(hits(resp)) == 20
    assert 'href="/admin/client/?search=Morcillo"' in text


def test_nothing_found_says_so_in_the_readers_language(client, session, make_user, login):
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    text = search(client, "Nadie Sellama").get_data(as_text=True)
    assert "No se ha encontrado nada para «Nadie Sellama»." in text
    assert "Solicitudes de servicio" not in text.split('id="no-results"')[1]


def test_a_role_without_invoices_never_sees_them(client, logged_in, invoice):
    logged_in("ops_agent")
    resp = search(client, "D2026-987654")
    assert resp.status_code == 200
    assert hits(resp) == set()
    assert "/admin/billing_invoice/" not in resp.get_data(as_text=True)


def test_each_role_sees_only_the_records_it_may_open(client, session, logged_in, factories):
    person = factories.client(name="Rolando Cliente", email="rolando@example.com")
    pro = factories.professional(name="Rolando Pro", email="rolando.pro@example.com")
    req = factories.request(client=person)
    ops_case = case_service.open_case(session, subject="Queja", channel="mail",
                                      requester=person, offer=False)
    logged_in("vetting")
    assert found(search(client, "Rolando")) == {f"professional:{pro.id}"}
    assert hits(search(client, "rolando@example.com")) == set()
    assert hits(search(client, f"#{req.id}")) == set()
    logged_in("finance")
    assert hits(search(client, f"C-{ops_case.id}")) == set()  # not the finance team's case


@pytest.mark.parametrize("typed", ["x" * 5000, "a\x00b", "' OR 1=1 --", "%", "_", "%%",
                                   "\\", "Robert'); DROP TABLE client;--", "C-99999999999999999999",
                                   "#99999999999999999999", "D2026-9999999999", "0", "#0",
                                   "C-9999999999", "#2147483648", "D2026-999999999",
                                   "\u202e\ufeff", "@", "+", "++"])
def test_hostile_input_gives_a_clean_page(client, logged_in, factories, typed):
    factories.client(name="Ana Normal")
    logged_in("admin")
    resp = search(client, typed)
    text = resp.get_data(as_text=True)
    assert resp.status_code in (200, 302)
    assert "Traceback" not in text and "SELECT" not in text
    if resp.status_code == 200:
        assert hits(resp) == set()  # wildcards are taken literally: nothing matches everything


def test_wildcards_are_searched_literally(client, logged_in, factories):
    logged_in("ops_agent")
    person = factories.client(name="Oferta 50% Dto")
    factories.client(name="Oferta 500 Dto")
    assert search(client, "oferta 50%").headers["Location"].endswith(f"?id={person.id}")


def test_every_page_has_the_box_and_it_never_holds_the_last_search(client, logged_in):
    logged_in("ops_agent")
    search(client, "Secreto Buscado")
    page = client.get("/admin/client/").get_data(as_text=True)
    box = re.search(r'<form[^>]*id="top-search".*?</form>', page, re.S).group(0)
    assert 'action="/admin/search/"' in box and 'name="q"' in box
    assert "Secreto" not in page
    results = search(client, "Secreto Buscado").get_data(as_text=True)
    assert "Secreto" not in re.search(r'id="top-search".*?</form>', results, re.S).group(0)


def test_anonymous_is_sent_to_login(client):
    resp = search(client, "Ana")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_an_empty_search_explains_what_to_type(client, logged_in):
    logged_in("finance")
    resp = search(client, "")
    assert resp.status_code == 200
    assert 'id="search-help"' in resp.get_data(as_text=True)


def test_names_that_start_with_the_text_come_first_in_a_full_group(client, logged_in,
                                                                   factories):
    logged_in("ops_agent")
    for n in range(25):
        factories.client(name=f"Ana Zorrilla {n:02d}")
    first = factories.client(name="Zorrilla Primero")
    listed = re.findall(r'data-hit="(client:\d+)"', search(client, "zorrilla").get_data(
        as_text=True))
    assert len(listed) == 20
    assert listed[0] == f"client:{first.id}"
