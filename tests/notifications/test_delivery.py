"""Notices as they leave: the calendar part over SMTP, and an address that bounces."""

from datetime import date, datetime, time

import icalendar

from backoffice import mail
from notifications import service

DAY = date(2027, 1, 20)
NOW = datetime(2027, 1, 19, 10, 0)
FROM = "backoffice@example.com"


def test_a_notice_arrives_with_its_calendar_invitation(session, factories, mail_sink):
    client = factories.client(email="invite.me@example.com", language="en")
    row = factories.request(client=client, professional=factories.professional(name="Marta"),
                            day=DAY, start=time(9))
    service.sync(session=session, now=NOW, request_ids=[row.id])

    mail.deliver(session, host="127.0.0.1", port=mail_sink.port, sender=FROM)

    [got] = [m for m in mail_sink.messages if m["To"] == client.email]
    assert got["Subject"] == "Booking confirmed: cleaning on Wednesday, January 20, 2027 at 09:00"
    assert "Who is coming: Marta" in got.get_body(("plain",)).get_content()
    [part] = [p for p in got.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "booking.ics"
    [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-01-20T08:00:00+00:00")


def test_a_refused_address_is_marked_failing_and_gets_no_more_reminders(
        session, factories, refusing_sink, notices):
    bouncing = factories.client(email="bounce.client@example.com")
    fine = factories.client(email="fine.client@example.com")
    pro = factories.professional(email="bounce.pro@example.com")
    rows = [factories.request(client=c, professional=factories.professional(), day=DAY,
                              start=time(9)) for c in (bouncing, fine)]
    service.sync(session=session, now=NOW, request_ids=[r.id for r in rows])
    mail.enqueue(session, to=pro.email, template="notifications/agenda", lang="es",
                 context={"name": pro.name, "day": "mañana", "items": []})

    mail.deliver(session, host="127.0.0.1", port=refusing_sink.port, sender=FROM)

    assert bouncing.email_failing_since is not None and pro.email_failing_since is not None
    assert fine.email_failing_since is None
    [refused] = notices(bouncing.email)
    assert refused.sent_at is None and "mailbox unavailable" in refused.last_error
    assert refused.attempts == 10  # a permanent refusal is not retried
    assert notices(fine.email)[0].sent_at is not None
    result = service.remind(session=session, now=NOW)
    assert result["mails"] == 1 and notices(fine.email)[-1].template == "notifications/reminder"
    assert len(notices(bouncing.email)) == 1
