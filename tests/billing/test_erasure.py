"""Erasure erases: after a client or a professional is erased, none of their former values stands
in any text column of any table, but for the invoice fields the law keeps."""

import json
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice import audit
from backoffice.db import Base
from backoffice.erasure import KEPT_FOR_LAW
from backoffice.models import (
    AuditEvent,
    Client,
    ClientStatus,
    OutboxMessage,
    Professional,
    RequestStatus,
    ServiceRequest,
    Task,
    TimeOff,
)
from backoffice.services import clients as client_service
from backoffice.services import professionals as professional_service
from billing import service as billing_service
from billing.models import Invoice, SavedCard
from tests.conftest import post_from
from vetting import service as vetting_service
from vetting.models import Document, Reference

NOW = datetime(2031, 3, 2, 10, 0)


def leftovers(session, former: list[str]) -> list[tuple[str, str, str]]:
    """Return (table, column, value) for every text cell that still holds a former value."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.c if isinstance(c.type, sa.String | sa.Text | sa.JSON)]
        for column in columns:
            for (value,) in session.execute(sa.select(column).where(column.is_not(None))):
                text = (json.dumps(value, ensure_ascii=False) if not isinstance(value, str)
                        else value).lower()
                for old in former:
                    if old.lower() in text:
                        found.append((table.name, column.name, old))
    return found


def a_client_with_a_history(session, factories, billing):
    client = billing.client(name="Remedios Albiñana Soler", email="remedios.albinana@mail.example",
                            phone="+34 655 123 987", address="Carrer de la Reina 14, 3ª, Valencia",
                            notes="Tiene un perro; llamar antes de las 10")
    audit.set_actor(audit.Actor(None, "test"))
    client.phone = "+34 655 000 111"  # an earlier phone, only in the audit history now
    session.flush()
    client.phone = "+34 655 123 987"
    session.flush()
    past = factories.request(client=client, day=date(2031, 2, 20), status=RequestStatus.DONE,
                             address=client.address, price_cents=4000)
    coming = factories.request(client=client, day=date(2031, 3, 9), address=client.address)
    inv = billing.invoice(client, due_on=date(2031, 3, 1), prices=(4000,))
    billing_service.log(session, inv, "mail", detail=f"reminder sent to {client.email}")
    session.add(OutboxMessage(to_address=client.email, subject=f"Factura para {client.name}",
                              body=f"Hola {client.name}, su dirección {client.address}",
                              template="dunning_reminder", entity="billing_invoice",
                              entity_id=str(inv.id)))
    session.add(Task(role="ops_agent", kind="dunning_call",
                     title=f"Llamar a {client.name} por {inv.code}",
                     details=f"Teléfono {client.phone}; correo {client.email}",
                     entity="billing_invoice", entity_id=str(inv.id)))
    session.flush()
    return client, past, coming, inv


def test_erasing_a_client_leaves_none_of_their_values_anywhere(session, factories, billing,
                                                               gateway, app):
    client, past, coming, inv = a_client_with_a_history(session, factories, billing)
    former = ["Remedios Albiñana Soler", "remedios.albinana@mail.example", "+34 655 123 987",
              "+34 655 000 111", "Carrer de la Reina 14, 3ª, Valencia",
              "Tiene un perro; llamar antes de las 10"]
    customer = client.stripe_customer_id
    assert leftovers(session, former)  # the scan sees them before

    fields = client_service.erase(session, client=client, now=NOW, config=app.config)
    session.flush()

    left = leftovers(session, former)
    assert all((table, column) in KEPT_FOR_LAW for table, column, _ in left), left
    session.expire_all()
    erased = session.get(Client, client.id)
    assert erased.status == ClientStatus.ERASED and erased.email is None
    assert erased.stripe_customer_id is None and session.get(SavedCard, client.id) is None
    # The issued invoice keeps whom it was issued to; the coming booking is cancelled.
    assert session.get(Invoice, inv.id).bill_to_name == "Remedios Albiñana Soler"
    assert session.get(ServiceRequest, coming.id).status == RequestStatus.CANCELLED
    assert session.get(ServiceRequest, past.id).status == RequestStatus.DONE
    # The erase's audit row names the fields, not their values; earlier rows keep their shape.
    rows = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "client", AuditEvent.entity_id == str(client.id))
        .order_by(AuditEvent.id)).all()
    assert rows[-1].action == "erase" and rows[-1].changes == {"erased": fields}
    assert {"name", "email", "phone", "address", "notes"} <= set(fields)
    phone_changes = [r.changes["phone"] for r in rows if r.changes and "phone" in r.changes]
    assert len(phone_changes) == 3  # created, changed, changed back: three rows, still there
    assert all(v in (None, "[erased]") for pair in phone_changes for v in pair)
    # The Stripe customer is gone.
    assert gateway.delete_customer(customer) is False


def test_a_client_erased_through_the_panel_is_erased_everywhere(client, session, factories,
                                                                billing, gateway, logged_in):
    person, _, _, _ = a_client_with_a_history(session, factories, billing)
    session.commit()
    logged_in("ops_agent")
    text = post_from(client, "/admin/client/", "/admin/client/action/",
                     {"action": "erase", "rowid": [person.id]})
    assert "1 clients updated." in text
    assert not [hit for hit in leftovers(session, ["remedios.albinana@mail.example",
                                                   "Remedios Albiñana Soler"])
                if hit[:2] not in KEPT_FOR_LAW]
    page = client.get(f"/admin/client/details/?id={person.id}").get_data(as_text=True)
    assert f"Erased client {person.id}" in page
    assert "Remedios" not in page and "remedios.albinana" not in page


def test_an_erasure_the_payment_provider_refuses_erases_nothing(session, factories, billing):
    person, _, coming, _ = a_client_with_a_history(session, factories, billing)
    dead = {"STRIPE_API_KEY": "sk_test_backoffice", "STRIPE_API_BASE": "http://127.0.0.1:9"}
    with pytest.raises(ValueError, match="stripe"):
        with session.begin_nested():
            client_service.erase(session, client=person, now=NOW, config=dead)
    session.expire_all()
    assert session.get(Client, person.id).email == "remedios.albinana@mail.example"
    assert session.get(ServiceRequest, coming.id).status == RequestStatus.NEW


def test_erasing_twice_is_refused(session, factories):
    person = factories.client()
    client_service.erase(session, client=person, now=NOW)
    with pytest.raises(ValueError, match="already erased"):
        client_service.erase(session, client=session.get(Client, person.id), now=NOW)


def test_erasing_a_professional_removes_their_data_and_documents(session, factories, app,
                                                                 tmp_path):
    pro = factories.professional(name="Gustavo Ibáñez Peris", email="gustavo.ibanez@mail.example",
                                 phone="+34 622 456 789", address="Avinguda del Port 88, Valencia",
                                 notes="Prefiere turnos de mañana")
    pro.time_off = [TimeOff(starts_on=date(2031, 4, 1), ends_on=date(2031, 4, 3),
                            reason="Operación de rodilla")]
    session.flush()
    app_row = vetting_service.new_applicant(session, name="Gustavo Ibáñez Peris",
                                            email="gustavo.ibanez.2@mail.example",
                                            phone="+34 622 456 780", skills=["cleaning"])
    session.add(Reference(application_id=app_row.id, name="Rosa Peris", contact="+34 600 765 432",
                          notes="Trabajó con Gustavo Ibáñez Peris dos años"))
    pdf = b"%PDF-1.4\n" + b"0" * 200
    doc = vetting_service.add_document(session, professional=app_row.professional,
                                       doc_type="identity", data=pdf, filename="dni-gustavo.pdf",
                                       upload_dir=str(tmp_path), max_bytes=10_000,
                                       number="12345678Z", issued_on=None,
                                       expires_on=date(2032, 1, 1), user=None)
    stored = tmp_path / doc.stored_name
    assert stored.exists()
    session.flush()

    for person in (pro, app_row.professional):
        professional_service.erase(session, professional=person, now=NOW,
                                   config={"UPLOAD_DIR": str(tmp_path)})
    session.flush()

    former = ["Gustavo Ibáñez Peris", "gustavo.ibanez@mail.example", "+34 622 456 789",
              "Avinguda del Port 88, Valencia", "Prefiere turnos de mañana",
              "gustavo.ibanez.2@mail.example", "Operación de rodilla", "12345678Z",
              "dni-gustavo.pdf", "Rosa Peris", "+34 600 765 432"]
    assert leftovers(session, former) == []
    assert not stored.exists()
    session.expire_all()
    assert session.get(Professional, pro.id).erased_at == NOW
    assert session.get(Document, doc.id).stored_name is None


def test_a_professional_with_coming_services_is_not_erased(session, factories):
    pro = factories.professional()
    factories.request(professional=pro, day=NOW.date() + timedelta(days=2))
    with pytest.raises(ValueError, match="coming services"):
        professional_service.erase(session, professional=pro, now=NOW)
    assert session.get(Professional, pro.id).erased_at is None

