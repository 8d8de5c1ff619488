"""A professional's page: route, services, shifts, documents, incidents, satisfaction, vetting,
the timeline and the quick actions that apply; who may open it."""

from datetime import date, time, timedelta

import sqlalchemy as sa

from backoffice.models import Interaction, InteractionKind, StaffUser
from tests.backoffice.test_timeline import a_client_with_a_story
from tests.conftest import post_from


def _spanish(session, user):
    session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale="es"))
    session.flush()


def test_the_page_tells_the_professionals_story(client, session, factories, logged_in):
    from vetting.models import Application, Document, DocumentStatus, Stage

    story = a_client_with_a_story(session, factories)
    pro = story.pro
    today = date.today()
    later = factories.request(client=story.client, professional=pro, day=today, start=time(15))
    earlier = factories.request(client=factories.client(name="Pepa Soler", address="Calle Mar 3"),
                                professional=pro, day=today, start=time(8))
    session.add_all([
        Document(professional_id=pro.id, doc_type="id_card", status=DocumentStatus.ACCEPTED,
                 expires_on=today - timedelta(days=2)),
        Application(professional_id=pro.id, stage=Stage.APPROVED),
    ])
    pro.rating = 4.5
    session.flush()
    user = logged_in("ops_agent")
    _spanish(session, user)
    page = client.get(f"/admin/professional/details/?id={pro.id}").get_data(as_text=True)
    route = page[page.index('id="today-route"'):page.index("</ol>", page.index('id="today-route"'))]
    assert route.index(f'data-booking="{earlier.id}"') < route.index(f'data-booking="{later.id}"')
    assert "08:00" in route and "Pepa Soler" in route and "Calle Mar 3" in route
    assert f'data-booking="{story.coming.id}"' not in page.split('id="coming-services"')[1].split(
        "</table>")[0]  # cancelled: not a coming service
    assert "caducado" in page.split('id="document-list"')[1]
    assert "Media 2,0/5 sobre 1 respuestas" in page  # a Spanish reader's decimal comma
    assert "<td><b>Valoración</b></td><td>4,5</td>" in page
    assert "Llegó una hora tarde" in page  # the incident
    assert "<tr><td><b>Estado</b></td><td>aprobado</td></tr>" in page
    assert "Historial" in page and 'id="log-call"' in page
    for internal in ("39.47", "-0.37", "Version", "Versión"):
        assert internal not in page.split('id="timeline"')[0], internal


def test_a_call_logged_on_a_professional_goes_on_their_timeline(client, session, factories,
                                                               logged_in):
    pro = factories.professional(name="Rosa Llopis")
    logged_in("vetting")
    url = f"/admin/professional/details/?id={pro.id}"
    text = post_from(client, url, "/admin/professional/call/", {
        "id": pro.id, "direction": "out", "phone": "611 22 33 44", "duration": "1:10",
        "outcome": "voicemail", "body": "Sobre su certificado"})
    assert "Call logged." in text
    call = session.scalars(sa.select(Interaction).where(
        Interaction.professional_id == pro.id)).one()
    assert (call.kind, call.phone, call.duration_s) == (InteractionKind.CALL_OUT,
                                                          "+34611223344", 70)
    page = client.get(url + "&kind=call").get_data(as_text=True)
    assert "Sobre su certificado" in page and "1 min 10 s" in page


def test_who_opens_a_professionals_page(client, session, factories, make_user, login):
    pro = factories.professional()
    url = f"/admin/professional/details/?id={pro.id}"
    for role, status in (("ops_agent", 200), ("vetting", 200), ("finance", 403)):
        login(make_user(role))
        assert client.get(url).status_code == status, role
    resp = client.post("/admin/professional/note/", data={"id": pro.id, "body": "x"})
    assert resp.status_code in (400, 403)  # no CSRF token, wrong role: nothing is written
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction)) == 0


def test_reminders_and_a_bouncing_address_on_a_professionals_page(client, session, factories,
                                                                  logged_in):
    from datetime import datetime

    from backoffice.models import AuditEvent

    pro = factories.professional(email="rosa@example.com",
                                 email_failing_since=datetime(2027, 3, 4, 9, 0))
    logged_in("vetting")
    url = f"/admin/professional/details/?id={pro.id}"
    page = client.get(url).get_data(as_text=True)
    assert "mail to this address bounces since 04/03/2027" in page
    assert 'data-reminders="on"' in page
    text = post_from(client, url, "/admin/professional/reminders/", {"id": pro.id,
                                                                      "enabled": "0"})
    assert "Reminders turned off." in text and 'data-reminders="off"' in text
    text = post_from(client, url, "/admin/professional/mail-works/", {"id": pro.id})
    assert "The address is marked as working again." in text and 'id="mail-bounces"' not in text
    session.expire_all()
    assert pro.reminders_opt_out is True and pro.email_failing_since is None
    changed = {field for changes in session.scalars(sa.select(AuditEvent.changes).where(
        AuditEvent.entity == "professional", AuditEvent.entity_id == str(pro.id),
        AuditEvent.action == "update")) for field in changes}
    assert {"reminders_opt_out", "email_failing_since"} <= changed
