"""A client's page: their whole story, the quick actions and who may use them."""

import re

import pytest
import sqlalchemy as sa

from backoffice.models import (
    AuditEvent,
    Interaction,
    InteractionKind,
    RequestStatus,
    ServiceRequest,
    StaffUser,
)
from tests.backoffice.test_timeline import a_client_with_a_story
from tests.conftest import csrf_from, post_from


def _spanish(session, user):
    session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale="es"))
    session.flush()


def _url(story) -> str:
    return f"/admin/client/details/?id={story.client.id}"


def test_the_page_tells_the_clients_whole_story_in_spanish(client, session, factories,
                                                           logged_in):
    story = a_client_with_a_story(session, factories)
    story.client.stripe_customer_id = "cus_internal42"
    session.flush()
    _spanish(session, logged_in("ops_agent"))
    page = client.get(_url(story)).get_data(as_text=True)
    assert "Saldo" in page and 'data-cents="12345"' in page and "123,45\xa0€" in page
    invoices = page.split('id="invoice-list"')[1].split("</table>")[0]
    assert "D2026-000901" in invoices and "en reclamación · paso del día 3" in invoices
    past = page.split('id="past-bookings"')[1].split("</table>")[0]
    assert f'data-booking="{story.past.id}"' in past and "hecho" in past and "Nieves Pardo" in past
    coming = page.split('id="coming-bookings"')[1].split("</table>")[0]
    assert "cancelado · <small>el cliente está enfermo</small>" in coming
    assert "Cambio de hora" in page and "Jarrón roto" in page  # cases
    timeline = page.split('id="timeline"')[1]
    for seen in ("Llamadas", "Pregunta por la factura", "contestó", "1 min 35 s",
                 "Prefiere que la llamen por la tarde", "Recordatorio de su servicio",
                 "Encuesta respondida: 2/5", "Incidencia: queja", "Historial"):
        assert seen in page, seen
    rows = re.findall(r'<tr data-kind="booking">.*?</tr>', timeline, re.S)
    cancelled = [r for r in rows if f"Reserva n.º {story.coming.id}:" in r and "cancelado" in r]
    assert cancelled and "el cliente está enfermo" in cancelled[0]


def test_internal_columns_are_never_on_the_page(client, session, factories, logged_in):
    story = a_client_with_a_story(session, factories)
    story.client.stripe_customer_id = "cus_internal42"
    story.client.lat, story.client.lon = 39.4712, -0.3763
    session.flush()
    logged_in("ops_agent")
    page = client.get(_url(story)).get_data(as_text=True)
    for internal in ("cus_internal42", "39.4712", "-0.3763", "<code>lat</code>",
                     "<code>version</code>", "request_count", "Request count",
                     "merged_into_id", "stripe_customer_id"):
        assert internal not in page, internal


def test_an_update_of_internal_columns_only_is_not_a_line_of_the_story(client, session,
                                                                       factories, logged_in):
    story = a_client_with_a_story(session, factories)
    before = client_changes(client, story, logged_in)
    story.client.stripe_customer_id = "cus_internal42"  # the audit trail records it
    session.flush()
    story.client.phone = "+34 600 99 88 77"
    session.flush()
    after = client_changes(client, story, None)
    assert len(after) == len(before) + 1 and "600 99 88 77" in after[0]


def client_changes(client, story, logged_in) -> list[str]:
    if logged_in:
        logged_in("ops_agent")
    page = client.get(_url(story) + "&kind=change").get_data(as_text=True)
    return re.findall(r'<tr data-kind="change">.*?</tr>', page, re.S)


def test_kind_filter_and_pages_on_the_page(client, session, factories, logged_in):
    story = a_client_with_a_story(session, factories)
    logged_in("ops_agent")
    page = client.get(_url(story) + "&kind=call").get_data(as_text=True)
    kinds = re.findall(r'<tr data-kind="(\w+)">', page)
    assert kinds == ["call"]
    # The older link carries the cursor; following it shows the entries after the first page.
    session.add_all([Interaction(kind=InteractionKind.NOTE, client_id=story.client.id,
                                 body=f"nota {i}") for i in range(60)])
    session.flush()
    first = client.get(_url(story)).get_data(as_text=True)
    older = re.search(r'id="timeline-older" href="([^"]+)"', first).group(1)
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert len(re.findall(r'<tr data-kind="', first)) == 50
    assert "Pregunta por la factura" in second and "Pregunta por la factura" not in first


def test_logging_a_call_writes_the_interaction_and_its_audit_row(client, session, factories,
                                                                 logged_in):
    person = factories.client(name="Lola Ferrer")
    agent = logged_in("ops_agent")
    url = f"/admin/client/details/?id={person.id}"
    text = post_from(client, url, "/admin/client/call/", {
        "id": person.id, "direction": "in", "phone": "+34 600 111 222", "duration": "4",
        "outcome": "call_back", "body": "Quiere cambiar el día"})
    assert "Call logged." in text and "Quiere cambiar el día" in text
    call = session.scalars(sa.select(Interaction).where(Interaction.client_id == person.id)).one()
    assert (call.kind, call.phone, call.duration_s, call.outcome, call.staff_id) == (
        InteractionKind.CALL_IN, "+34600111222", 240, "call_back", agent.id)
    assert session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.entity == "interaction", AuditEvent.entity_id == str(call.id))) == "create"
    text = post_from(client, url, "/admin/client/note/", {"id": person.id,
                                                          "body": "Llamar por la tarde"})
    assert "Note written." in text
    note = session.scalars(sa.select(Interaction).where(
        Interaction.kind == InteractionKind.NOTE, Interaction.client_id == person.id)).one()
    assert note.body == "Llamar por la tarde"


@pytest.mark.parametrize(("path", "data", "field"), [
    ("call", {"direction": "sideways", "outcome": "answered"}, "direction:"),
    ("call", {"direction": "in", "outcome": "answered", "duration": "ten"}, "duration:"),
    ("call", {"direction": "in", "outcome": "answered", "duration": "999"}, "duration:"),
    ("call", {"direction": "in", "outcome": "angry"}, "outcome:"),
    ("call", {"direction": "in", "outcome": "answered", "phone": "hello"}, "phone:"),
    ("note", {"body": "   "}, "body:"),
    ("note", {"body": "x" * 5001}, "body:"),
])
def test_bad_input_is_refused_naming_the_field(client, session, factories, logged_in, path,
                                               data, field):
    person = factories.client()
    logged_in("ops_agent")
    text = post_from(client, f"/admin/client/details/?id={person.id}", f"/admin/client/{path}/",
                     {"id": person.id, **data})
    assert field in text
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction).where(
        Interaction.client_id == person.id)) == 0


def test_cancelling_a_booking_with_a_reason(client, session, factories, logged_in):
    person = factories.client()
    booking = factories.request(client=person, professional=factories.professional())
    other = factories.request()
    logged_in("ops_agent")
    url = f"/admin/client/details/?id={person.id}"
    text = post_from(client, url, "/admin/client/cancel/", {"id": person.id,
                                                            "booking": booking.id,
                                                            "reason": "because"})
    assert "reason:" in text
    text = post_from(client, url, "/admin/client/cancel/", {"id": person.id,
                                                            "booking": other.id,
                                                            "reason": "client_ill"})
    assert "booking:" in text
    session.expire_all()
    assert session.get(ServiceRequest, other.id).status == RequestStatus.NEW
    text = post_from(client, url, "/admin/client/cancel/", {"id": person.id,
                                                            "booking": booking.id,
                                                            "reason": "client_ill"})
    assert f"Booking #{booking.id} cancelled." in text
    session.expire_all()
    done = session.get(ServiceRequest, booking.id)
    assert (done.status, done.cancellation_reason) == (RequestStatus.CANCELLED,
                                                       "the client is ill")
    row = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "service_request", AuditEvent.entity_id == str(booking.id),
        AuditEvent.action == "update")).one()
    assert row.changes["status"][1] == "cancelled"
    # Once cancelled it cannot be cancelled again, and the page says why.
    text = post_from(client, url, "/admin/client/cancel/", {"id": person.id,
                                                            "booking": booking.id,
                                                            "reason": "client_ill"})
    assert "status:" in text


def test_roles(client, session, factories, make_user, login):
    story = a_client_with_a_story(session, factories)
    url = _url(story)
    login(make_user("vetting"))
    assert client.get(url).status_code == 403
    login(make_user("finance"))
    page = client.get(url).get_data(as_text=True)
    assert "€123.45" in page  # finance reads the amounts
    assert 'id="call-form"' not in page and "cancel-form" not in page  # and does not act
    token = csrf_from(page)
    resp = client.post("/admin/client/note/", data={"csrf_token": token, "id": story.client.id,
                                                    "body": "finance note"},
                       follow_redirects=True)
    assert "Your role can read this page but not act on it." in resp.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction).where(
        Interaction.body == "finance note")) == 0
    # Finance reads only the cases of its team.
    assert "Jarrón roto" not in page
    login(make_user("ops_agent"))
    page = client.get(url).get_data(as_text=True)
    assert 'id="call-form"' in page and "cancel-form" not in page  # the one coming is cancelled
    assert "Jarrón roto" in page


def test_reminders_are_shown_and_switched_from_the_page(client, session, factories,
                                                       logged_in):
    person = factories.client()
    logged_in("ops_agent")
    url = f"/admin/client/details/?id={person.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'data-reminders="on"' in page and "Turn reminders off" in page
    text = post_from(client, url, "/admin/client/reminders/", {"id": person.id, "enabled": "0"})
    assert "Reminders turned off." in text and 'data-reminders="off"' in text
    assert "does not want reminders" in text and "Turn reminders on" in text
    session.expire_all()
    assert person.reminders_opt_out is True
    change = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "client", AuditEvent.entity_id == str(person.id),
        AuditEvent.action == "update")).one()
    assert change.changes["reminders_opt_out"] == [False, True]
    text = post_from(client, url, "/admin/client/reminders/", {"id": person.id, "enabled": "1"})
    assert "Reminders turned on." in text
    session.expire_all()
    assert person.reminders_opt_out is False


def test_a_bouncing_address_is_shown_and_cleared_with_an_audit_row(client, session, factories,
                                                                  logged_in):
    from datetime import datetime

    person = factories.client(email_failing_since=datetime(2027, 1, 2, 10, 0))
    _spanish(session, logged_in("ops_agent"))
    url = f"/admin/client/details/?id={person.id}"
    page = client.get(url).get_data(as_text=True)
    assert "el correo a esta dirección rebota desde el 02/01/2027" in page
    text = post_from(client, url, "/admin/client/mail-works/", {"id": person.id})
    assert 'id="mail-bounces"' not in text
    session.expire_all()
    assert person.email_failing_since is None
    row = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "client", AuditEvent.entity_id == str(person.id),
        AuditEvent.action == "update")).one()
    assert row.changes["email_failing_since"][1] is None
    # Cleared once: a second press says so and changes nothing.
    text = post_from(client, url, "/admin/client/mail-works/", {"id": person.id})
    assert "correo" in text.split('class="alert')[1].split("</div>")[0]


def test_finance_sees_reminders_and_bounces_but_does_not_switch_them(client, session, factories,
                                                                    logged_in):
    from datetime import datetime

    person = factories.client(email_failing_since=datetime(2027, 1, 2))
    logged_in("finance")
    url = f"/admin/client/details/?id={person.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="mail-bounces"' in page and 'data-reminders="on"' in page
    assert 'id="mail-works"' not in page and 'id="reminders-switch"' not in page
    text = post_from(client, url, "/admin/client/reminders/", {"id": person.id, "enabled": "0"})
    assert "Your role can read this page but not act on it." in text
    session.expire_all()
    assert person.reminders_opt_out is False and person.email_failing_since is not None


def test_a_merged_client_points_to_the_one_kept_and_leaves_the_list(app, client, session,
                                                                     factories, logged_in):
    kept = factories.client(name="Rosa Kept")
    middle = factories.client(name="Rosa Middle", merged_into_id=kept.id)
    gone = factories.client(name="Rosa Gone", merged_into_id=middle.id)
    logged_in("ops_agent")
    page = client.get(f"/admin/client/details/?id={gone.id}").get_data(as_text=True)
    note = page.split('id="merged-note"')[1].split("</p>")[0]
    assert f"/admin/client/details/?id={kept.id}" in note and "Rosa Kept" in note
    assert 'id="merged-note"' not in client.get(
        f"/admin/client/details/?id={kept.id}").get_data(as_text=True)
    listing = client.get("/admin/client/?search=Rosa").get_data(as_text=True)
    assert "Rosa Kept" in listing and "Rosa Gone" not in listing and "Rosa Middle" not in listing
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "client")
    index = next(i for i, f in enumerate(view._filters) if type(f).__name__ == "MergedFilter")
    arg = view.get_filter_arg(index, view._filters[index])
    both = client.get(f"/admin/client/?search=Rosa&flt0_{arg}=too").get_data(as_text=True)
    assert "Rosa Kept" in both and "Rosa Gone" in both
    only = client.get(f"/admin/client/?search=Rosa&flt0_{arg}=only").get_data(as_text=True)
    assert "Rosa Kept" not in only and "Rosa Gone" in only and "Rosa Middle" in only
