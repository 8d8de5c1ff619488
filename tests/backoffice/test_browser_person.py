"""An ops agent on the phone, in Spanish: finds the caller by number through the top-bar
search, reads the timeline, cancels a booking with a reason, logs the call, and sees both."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice.auth import create_user
from backoffice.models import Interaction, RequestStatus, ServiceRequest
from tests.browser_support import log_in
from tests.factories import Factories

pytestmark = pytest.mark.browser


def test_agent_finds_the_caller_cancels_a_booking_and_logs_the_call(live_server, browser):
    with live_server.session() as s:
        create_user(s, email="agente.telefono@example.com", name="Agente Teléfono",
                    password="browser-pass-789", roles=["ops_agent"], locale="es")
        make = Factories(s)
        caller = make.client(name="Consuelo Marí Peris", phone="+34 633 445 566",
                             email="consuelo@example.com")
        booking = make.request(client=caller, professional=make.professional(name="Pilar Gil"),
                               day=date.today() + timedelta(days=3))
        s.flush()
        client_id, booking_id = caller.id, booking.id
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, "agente.telefono@example.com", "browser-pass-789")
        page.fill("#top-search input[name=q]", "633 44 55 66")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/admin/client/details/?id={client_id}")
        expect(page.locator("#person-header")).to_contain_text("Consuelo Marí Peris")
        expect(page.locator("#timeline")).to_have_text("Historial")
        timeline = page.locator("#timeline-table")
        expect(timeline.locator("tr[data-kind=booking]").first).to_contain_text(
            f"Reserva n.º {booking_id}:")

        row = page.locator(f"#coming-bookings tr[data-booking='{booking_id}']")
        expect(row).to_contain_text("Pilar Gil")
        row.locator("select[name=reason]").select_option("client_ill")
        row.locator("button").click()
        expect(page.locator(".alert-success")).to_contain_text(f"Reserva n.º {booking_id}")
        expect(page.locator(f"#coming-bookings tr[data-booking='{booking_id}']")).to_contain_text(
            "el cliente está enfermo")

        page.click("#log-call summary")
        page.select_option("#call-direction", "in")
        page.fill("#call-duration", "3:15")
        page.select_option("#call-outcome", "answered")
        page.fill("#call-body", "Cancela porque está enferma")
        page.click("#call-submit")
        expect(page.locator(".alert-success")).to_contain_text("Llamada registrada")
        first = page.locator("#timeline-table tbody tr").first
        expect(first).to_contain_text("llamada recibida · contestó")
        expect(first).to_contain_text("Cancela porque está enferma")
        cancelled = page.locator("#timeline-table tr[data-kind=booking]").filter(
            has_text="el cliente está enfermo")
        expect(cancelled).to_contain_text(f"Reserva n.º {booking_id}:")
        expect(cancelled).to_contain_text("cancelado")
    finally:
        context.close()
    with live_server.session() as s:
        assert s.get(ServiceRequest, booking_id).status == RequestStatus.CANCELLED
        assert s.scalar(sa.select(sa.func.count()).select_from(Interaction).where(
            Interaction.client_id == client_id)) == 1
