"""Duplicate clients: suggestions, a merge that moves everything in one go, and its refusals."""

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backoffice import migrate, search
from backoffice.db import make_engine, make_sessionmaker
from backoffice.i18n import Refusal
from backoffice.models import (
    AuditEvent,
    ClientStatus,
    Interaction,
    InteractionKind,
    RequestStatus,
    ServiceRequest,
)
from backoffice.services import merge, tasks
from billing import invoicing
from billing.models import Invoice, InvoiceLine, SavedCard
from cases import service as cases
from cases.models import Case, CaseCategory, CaseState
from surveys.models import Survey, SurveySubject
from tests.conftest import csrf_from
from tests.factories import Factories

NOW = datetime(2030, 6, 1, 9, 0)


def _invoice(session, factories, client, month: int) -> Invoice:
    start = date(2029, month, 1)
    factories.request(client=client, day=start, status=RequestStatus.DONE, price_cents=4000)
    return invoicing.issue(session, client=client, start=start, end=date(2029, month, 28),
                           issued_on=date(2029, month + 1, 1))


def _issued(session, inv: Invoice) -> tuple:
    lines = session.execute(sa.select(InvoiceLine.description, InvoiceLine.amount_cents)
                            .where(InvoiceLine.invoice_id == inv.id)
                            .order_by(InvoiceLine.id)).all()
    return (inv.series, inv.number, inv.bill_to_name, inv.bill_to_address, inv.total_cents,
            inv.issued_on, [tuple(r) for r in lines])


def _dispute(session, client) -> Case:
    category = session.scalar(sa.select(CaseCategory).where(
        CaseCategory.code == "payment_dispute"))
    return cases.open_case(session, subject="Charged twice", channel="phone", requester=client,
                           category=category, offer=False, now=NOW)


@pytest.fixture()
def pair(session, factories, make_user):
    """Two records of one person: the one kept, and a duplicate with a whole history."""
    keep = factories.client(name="Amparo Ferrer Roig", email="amparo@example.com",
                            phone="600 123 456", address="Calle de Colón 12, Valencia",
                            notes="Llave en portería")
    dup = factories.client(name="Amparo Ferrer", email="AMPARO.F@example.com",
                           phone="+34 611 222 333", address="C/ Colon, 12", notes="Perro",
                           stripe_customer_id="cus_dup")
    session.add(SavedCard(client_id=dup.id, payment_method_id="pm_dup"))
    bookings = [factories.request(client=dup, day=date(2030, 7, d)) for d in (1, 2)]
    invoice = _invoice(session, factories, dup, 3)
    case = cases.open_case(session, subject="Keys", channel="phone", requester=dup, offer=False,
                           now=NOW)
    cases.link(session, case=case, entity="client", entity_id=dup.id)
    call = Interaction(kind=InteractionKind.CALL_IN, client_id=dup.id, body="asked about keys",
                       at=NOW)
    survey = Survey(subject=SurveySubject.SERVICE, dedup_key=f"service:{bookings[0].id}",
                    client_id=dup.id, service_request_id=bookings[0].id, send_after=NOW)
    pro = factories.professional()
    pro.excluded_clients.append(dup)
    session.add_all([call, survey])
    task = tasks.create(session, title="Call back", role="ops_agent", entity="client",
                        entity_id=str(dup.id), user=make_user("ops_agent"))
    session.flush()
    return {"keep": keep, "dup": dup, "bookings": bookings, "invoice": invoice, "case": case,
            "call": call, "survey": survey, "task": task, "pro": pro}


def test_a_merge_moves_everything_and_leaves_issued_invoices_as_issued(session, pair,
                                                                       make_user):
    keep, dup, inv = pair["keep"], pair["dup"], pair["invoice"]
    issued = _issued(session, inv)
    assert inv.bill_to_name == "Amparo Ferrer"
    agent = make_user("ops_agent")

    moved = merge.merge(session, keep=keep, merged=dup, user=agent, now=NOW)

    assert moved["bookings"] == 3 and moved["invoices"] == 1 and moved["cases"] == 1
    for booking in pair["bookings"]:
        session.refresh(booking)
        assert booking.client_id == keep.id
    session.refresh(inv)
    assert inv.client_id == keep.id
    assert _issued(session, inv) == issued  # legally fixed: name, address, number, lines
    session.refresh(pair["case"])
    assert pair["case"].client_id == keep.id
    assert cases.cases_of(session, entity="client", entity_id=keep.id) == [pair["case"]]
    session.refresh(pair["call"])
    session.refresh(pair["survey"])
    session.refresh(pair["task"])
    assert pair["call"].client_id == pair["survey"].client_id == keep.id
    assert pair["task"].entity_id == str(keep.id)
    assert [c.id for c in pair["pro"].excluded_clients] == [keep.id]
    assert keep.stripe_customer_id == "cus_dup" and dup.stripe_customer_id is None
    assert session.get(SavedCard, keep.id).payment_method_id == "pm_dup"
    assert keep.notes.startswith("Llave en portería\n\nMerged from client")
    assert "Perro" in keep.notes and "+34 611 222 333" in keep.notes
    assert (keep.request_count, dup.request_count) == (3, 0)
    assert dup.merged_into_id == keep.id and merge.kept_for(session, dup.id) == keep.id
    rows = session.execute(sa.select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.changes)
                           .where(AuditEvent.entity == "client",
                                  AuditEvent.entity_id.in_([str(keep.id), str(dup.id)]),
                                  AuditEvent.action.in_(("merge", "merged_into", "update")))
                           ).all()
    by = {(e, a): c for e, a, c in rows}
    assert by[(str(keep.id), "merge")]["merged"] == [None, dup.id]
    assert by[(str(keep.id), "merge")]["invoices"] == [None, 1]
    assert by[(str(dup.id), "merged_into")] == {"merged_into_id": [None, keep.id]}
    assert by[(str(dup.id), "update")]["merged_into_id"] == [None, keep.id]
    assert "notes" in by[(str(keep.id), "update")]


def test_an_invoice_issued_without_its_name_keeps_the_duplicates(session, factories, pair):
    keep, dup, inv = pair["keep"], pair["dup"], pair["invoice"]
    session.execute(sa.update(Invoice).where(Invoice.id == inv.id)
                    .values(bill_to_name=None, bill_to_address=None))
    merge.merge(session, keep=keep, merged=dup, user=None, now=NOW)
    session.refresh(inv)
    assert (inv.client_id, inv.bill_to_name, inv.bill_to_address) == (
        keep.id, "Amparo Ferrer", "C/ Colon, 12")


def _state(session, pair) -> tuple:
    session.expire_all()
    dup = pair["dup"]
    return (session.scalar(sa.select(sa.func.count()).where(ServiceRequest.client_id == dup.id)),
            session.scalar(sa.select(sa.func.count()).where(Invoice.client_id == dup.id)),
            session.scalar(sa.select(sa.func.count()).where(Case.client_id == dup.id)),
            dup.merged_into_id, dup.stripe_customer_id, pair["keep"].notes)


@pytest.mark.parametrize(("case", "field"), [
    ("itself", "merge: a client cannot be merged into itself"),
    ("into_erased", "keep: "),
    ("from_erased", "merge: "),
    ("from_merged", "merge: "),
    ("into_merged", "keep: "),
    ("two_disputes", "merge: both clients have an open payment dispute"),
])
def test_a_refused_merge_moves_nothing_and_says_why(session, factories, pair, case, field):
    keep, dup = pair["keep"], pair["dup"]
    other = factories.client(name="Tercera")
    if case == "itself":
        keep = dup
    elif case == "into_erased":
        keep.status = ClientStatus.ERASED
    elif case == "from_erased":
        dup.status = ClientStatus.ERASED
    elif case == "from_merged":
        dup.merged_into_id = other.id
    elif case == "into_merged":
        keep.merged_into_id = other.id
    elif case == "two_disputes":
        _dispute(session, keep)
        _dispute(session, dup)
    session.flush()
    before = _state(session, pair)
    with pytest.raises(Refusal) as refused:
        merge.merge(session, keep=keep, merged=dup, user=None, now=NOW)
    assert str(refused.value).startswith(field)
    assert _state(session, pair) == before


def test_one_open_dispute_does_not_stop_a_merge(session, pair):
    _dispute(session, pair["dup"])
    merge.merge(session, keep=pair["keep"], merged=pair["dup"], user=None, now=NOW)
    assert merge.open_disputes(session, pair["keep"].id)


def test_a_solved_dispute_is_not_an_open_one(session, pair):
    _dispute(session, pair["keep"])
    solved = _dispute(session, pair["dup"])
    solved.state = CaseState.SOLVED
    session.flush()
    assert merge.refusal(session, keep=pair["keep"], merged=pair["dup"]) is None


def test_finance_cannot_merge(session, pair, make_user):
    with pytest.raises(Refusal, match="only operations agents and admins"):
        merge.merge(session, keep=pair["keep"], merged=pair["dup"], user=make_user("finance"))
    assert pair["dup"].merged_into_id is None


def test_suggestions_say_why(session, factories):
    a = factories.client(name="Vicente Soler Mas", phone="612 000 001", email="v1@example.com",
                         address="Avenida del Puerto 33, Valencia")
    b = factories.client(name="Vicent Soler", phone="+34612000001", email="v2@example.com",
                         address="Av. Puerto, 33")
    c = factories.client(name="Carla Soler", phone="+34 612 000 009", email="V1@Example.com",
                         address="Avenida del Puerto 33")
    factories.client(name="Luis Soler", phone="+34 612 000 010", email="luis@example.com",
                     address="Av. del Puerto 33")  # same home, family: not a duplicate
    merge.refresh_suggestions(session)
    found = {frozenset((s.first.id, s.second.id)): s.reasons
             for s in merge.suggestions(session)}
    assert found[frozenset((a.id, b.id))] == {"phone"}  # "Vicent" is not "Vicente"
    assert found[frozenset((a.id, c.id))] == {"email"}
    assert all(len(pair & {a.id, b.id, c.id}) == 2 for pair in found)


def test_similar_names_at_one_address(session, factories):
    a = factories.client(name="María José García López", phone=None, email=None,
                         address="Carrer de la Pau 7, 2ª")
    b = factories.client(name="Maria Jose Garcia", phone=None, email=None,
                         address="calle Pau, 7 - 2")
    assert merge.suggestions(session) == []  # found by the night's search, not by the page
    assert merge.refresh_suggestions(session) == 1
    found = {frozenset((s.first.id, s.second.id)): s.reasons
             for s in merge.suggestions(session)}
    assert found[frozenset((a.id, b.id))] == {"name_address"}
    merge.merge(session, keep=a, merged=b, user=None, now=NOW)
    assert frozenset((a.id, b.id)) not in {frozenset((s.first.id, s.second.id))
                                           for s in merge.suggestions(session)}


def test_a_merged_client_is_left_out_of_the_search(session, pair):
    keep, dup = pair["keep"], pair["dup"]
    kinds = frozenset({"client"})
    assert search.find(session, key=search.classify("611 222 333"), kinds=kinds).total == 1
    merge.merge(session, keep=keep, merged=dup, user=None, now=NOW)
    for text in ("611 222 333", "amparo.f@example.com", str(dup.id)):
        assert search.find(session, key=search.classify(text), kinds=kinds).total == 0, text
    found = search.find(session, key=search.classify("Amparo Ferrer"), kinds=kinds)
    assert [h.id for h in found.groups["client"]] == [keep.id]


def test_an_agent_merges_from_the_page_and_finance_only_reads(client, session, logged_in,
                                                            pair, login, make_user):
    keep, dup = pair["keep"], pair["dup"]
    session.commit()
    logged_in("finance")
    page = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert 'data-merge=' not in page and 'id="search-now"' not in page  # not searched yet
    merge.refresh_suggestions(session)  # the night's search
    session.commit()
    page = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert f'data-keep="{keep.id}" data-merge="{dup.id}"' in page
    assert "same address, similar name" in page and 'id="merge-form"' not in page
    resp = client.post("/admin/client_duplicates/merge", data={
        "csrf_token": csrf_from(page), "keep": str(keep.id), "merge": str(dup.id)},
        follow_redirects=True)
    assert "only operations agents and admins merge clients" in resp.get_data(as_text=True)
    session.refresh(dup)
    assert dup.merged_into_id is None

    login(make_user("ops_agent", locale="es"))
    page = client.get("/admin/client_duplicates/").get_data(as_text=True)
    resp = client.post("/admin/client_duplicates/merge", data={
        "csrf_token": csrf_from(page), "keep": str(dup.id), "merge": str(dup.id)},
        follow_redirects=True)
    assert "un cliente no se puede fusionar consigo mismo" in resp.get_data(as_text=True)
    resp = client.post("/admin/client_duplicates/merge", data={
        "csrf_token": csrf_from(page), "keep": str(keep.id), "merge": str(dup.id)})
    assert resp.status_code == 302 and f"id={keep.id}" in resp.headers["Location"]
    session.refresh(dup)
    assert dup.merged_into_id == keep.id
    page = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert f'data-merge="{dup.id}"' not in page and "Fusionados últimamente" in page


def test_an_agent_searches_now_from_the_page(client, session, pair, logged_in):
    keep, dup = pair["keep"], pair["dup"]
    session.commit()
    logged_in("ops_agent")
    page = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert "Not searched yet" in page
    resp = client.post("/admin/client_duplicates/search", data={"csrf_token": csrf_from(page)},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Search done: 1 likely duplicate pairs." in page
    assert f'data-keep="{keep.id}" data-merge="{dup.id}"' in page and "Searched on" in page


def test_the_command_line_merges_through_the_same_service(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'merge.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        made = Factories(session)
        keep, dup = made.client(name="Pepa Llorens"), made.client(name="Pepa Llorens")
        made.request(client=dup)
        session.commit()
        keep_id, dup_id = keep.id, dup.id
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BACKOFFICE_INSTANCE", str(tmp_path / "instance"))
    from backoffice.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["clients", "merge", "--keep", str(dup_id), "--merge",
                                  str(dup_id)])
    assert result.exit_code == 1 and "cannot be merged into itself" in result.output
    result = runner.invoke(main, ["clients", "merge", "--keep", str(keep_id), "--merge",
                                  str(dup_id)])
    assert result.exit_code == 0, result.output
    assert f"Merged client {dup_id} into client {keep_id}: bookings 1" in result.output
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT merged_into_id FROM client WHERE id = :i"),
                           {"i": dup_id}) == keep_id
        assert conn.scalar(sa.text(
            "SELECT actor FROM audit_event WHERE action = 'merge'")) == "cli:clients-merge"
    engine.dispose()

