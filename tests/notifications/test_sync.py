"""Booking notices: each change told once, to the client and to the professionals concerned."""

from datetime import date, datetime, time, timedelta

import icalendar
import pytest

from assignment import service as assignment
from backoffice import mail
from backoffice.models import TimeOff
from backoffice.services import requests
from notifications import jobs, service

DAY = date(2027, 1, 20)  # a Wednesday, in winter: Madrid is UTC+1
NOW = datetime(2027, 1, 18, 9, 0)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute))


def _calendar(msg) -> icalendar.Calendar:
    """Return the calendar part a notice is sent with, parsed back."""
    return icalendar.Calendar.from_ical(mail.calendar_text(msg.calendar))


def _sync(session, *rows, now=NOW):
    return service.sync(session=session, now=now,
                        request_ids=[r.id for r in rows] if rows else None)


@pytest.fixture()
def booked(factories):
    """A client who reads English, a professional, and a service booked with them at 09:00."""
    client = factories.client(name="Alice Brown", email="alice@example.com", language="en")
    pro = factories.professional(name="Marta Ruiz", email="marta@example.com")
    row = factories.request(client=client, professional=pro, day=DAY, start=time(9))
    return client, pro, row


def test_a_booking_is_confirmed_once_with_who_is_coming(session, booked, notices):
    client, pro, row = booked

    assert _sync(session, row) == {"confirmed": 1, "professional_changes": 1,
                                   "professional_mails": 1, "mails": 2, "services": 1}
    assert _sync(session, row) == {"services": 0}
    assert _sync(session) == {"services": 0}  # the whole comparison finds nothing either

    [confirmed] = notices(client.email)
    assert confirmed.subject == ("Booking confirmed: cleaning on Wednesday, January 20, 2027 "
                                 "at 09:00")
    assert "Who is coming: Marta Ruiz" in confirmed.body
    assert "Wednesday, January 20, 2027, 09:00 to 11:00" in confirmed.body
    cal = _calendar(confirmed)
    [event] = cal.walk("VEVENT")
    assert cal["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"service-request-{row.id}@backoffice"
    assert event["SEQUENCE"] == 0
    # 09:00 in Madrid in January is 08:00 UTC
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-01-20T08:00:00+00:00")
    assert event.decoded("DTEND") == datetime.fromisoformat("2027-01-20T10:00:00+00:00")
    assert str(event["ATTENDEE"]) == "mailto:alice@example.com"
    [to_pro] = notices(pro.email)
    assert to_pro.subject == "Cambios en tus servicios (1)"  # the professional reads Spanish
    assert f"NUEVO: miércoles, 20 de enero de 2027, 09:00-11:00, limpieza, n.º {row.id}, " \
           f"Alice Brown" in to_pro.body


def test_summer_times_are_written_in_utc_too(session, factories, notices):
    summer = date(2027, 7, 14)
    row = factories.request(professional=factories.professional(), day=summer, start=time(9))

    _sync(session, row)

    [event] = _calendar(notices(row.client.email)[0]).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-07-14T07:00:00+00:00")


def test_a_change_of_professional_is_told_to_the_client_and_both_professionals(
        session, booked, factories, notices):
    client, marta, row = booked
    _sync(session, row)
    pablo = factories.professional(name="Pablo Gil", email="pablo@example.com", language="en")

    assignment.pin(session, request=row, professional=pablo, start_at=_at(9))
    result = _sync(session, row)

    assert (result["changed"], result["professional_mails"]) == (1, 2)
    changed = notices(client.email)[-1]
    assert changed.template == "notifications/booking_changed"
    assert "Pablo Gil is coming now (before: Marta Ruiz)." in changed.body
    assert "New time" not in changed.body
    [event] = _calendar(changed).walk("VEVENT")
    assert (event["SEQUENCE"], str(event["UID"])) == (1, f"service-request-{row.id}@backoffice")
    lost = notices(marta.email)[-1]
    assert f"YA NO ES TUYO: miércoles, 20 de enero de 2027, 09:00-11:00, limpieza, n.º {row.id}" \
           in lost.body
    [gone] = _calendar(lost).walk("VEVENT")
    assert str(gone["STATUS"]) == "CANCELLED"
    [gained] = notices(pablo.email)
    assert gained.subject == "Changes to your services (1)"
    assert f"NEW: Wednesday, January 20, 2027, 09:00-11:00, cleaning, no. {row.id}" in gained.body
    assert _sync(session, row) == {"services": 0}


def test_a_change_of_time_is_told_with_the_time_before(session, booked, notices):
    client, pro, row = booked
    _sync(session, row)

    assignment.pin(session, request=row, professional=pro, start_at=_at(10, 30))
    assert _sync(session, row)["changed"] == 1

    changed = notices(client.email)[-1]
    assert ("New time: Wednesday, January 20, 2027, 10:30 to 12:30 (before: Wednesday, "
            "January 20, 2027 at 09:00).") in changed.body
    assert "is coming now" not in changed.body
    [event] = _calendar(changed).walk("VEVENT")
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-01-20T09:30:00+00:00")
    to_pro = notices(pro.email)[-1]
    assert "NUEVA HORA: miércoles, 20 de enero de 2027, 10:30-12:30" in to_pro.body
    assert "(antes a las 09:00)" in to_pro.body
    assert _sync(session, row) == {"services": 0}


def test_a_cancellation_is_told_once_and_removes_the_event(session, booked, notices):
    client, pro, row = booked
    _sync(session, row)

    requests.cancel(session, request=row, reason="client moved house", now=NOW)
    assert _sync(session, row)["cancelled"] == 1
    assert _sync(session, row) == {"services": 0}

    cancelled = notices(client.email)[-1]
    assert cancelled.subject == "Booking cancelled: cleaning on Wednesday, January 20, 2027"
    cal = _calendar(cancelled)
    [event] = cal.walk("VEVENT")
    assert (cal["METHOD"], event["SEQUENCE"], str(event["STATUS"])) == ("CANCEL", 1, "CANCELLED")
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-01-20T08:00:00+00:00")
    assert "CANCELADO" in notices(pro.email)[-1].body
    assert len(notices(client.email)) == 2 and len(notices(pro.email)) == 2


def test_nothing_is_told_of_what_the_person_never_heard_or_what_came_back(
        session, booked, factories, notices):
    client, marta, row = booked
    never_booked = factories.request(client=client, day=DAY)
    requests.cancel(session, request=never_booked, reason="not needed", now=NOW)
    _sync(session, row, never_booked)
    pablo = factories.professional()

    # moved and moved back between two syncs: nobody needs to hear it
    assignment.pin(session, request=row, professional=pablo, start_at=_at(9))
    assignment.pin(session, request=row, professional=marta, start_at=_at(9))
    assert _sync(session, row, never_booked) == {"services": 0}
    assert [m.template for m in notices(client.email)] == ["notifications/booking_confirmed"]


def test_an_unassigned_service_is_taken_from_the_professional_and_the_client_waits(
        session, booked, notices):
    client, pro, row = booked
    _sync(session, row)

    assignment.unassign(session, request=row)
    result = _sync(session, row)

    assert result == {"professional_changes": 1, "professional_mails": 1, "mails": 1,
                      "services": 1}
    assert "YA NO ES TUYO" in notices(pro.email)[-1].body
    assert len(notices(client.email)) == 1  # ops re-cover it; the client hears the outcome
    assignment.pin(session, request=row, professional=pro, start_at=_at(9))
    assert _sync(session, row)["professional_changes"] == 1
    assert "NUEVO" in notices(pro.email)[-1].body
    assert len(notices(client.email)) == 1  # the same professional at the same time as told


def test_past_services_and_services_under_way_are_not_news(session, factories, notices):
    pro = factories.professional()
    started = factories.request(professional=pro, day=NOW.date(), start=time(8))

    assert _sync(session, started) == {"services": 0}
    assert notices(started.client.email) == []


def test_a_client_without_mail_is_recorded_as_told_without_a_mail(session, factories, notices):
    row = factories.request(client=factories.client(email=None),
                            professional=factories.professional(email=None), day=DAY)

    assert _sync(session, row)["mails"] == 0
    assert _sync(session, row) == {"services": 0}


def test_silent_sync_records_without_mailing(session, booked, notices):
    _client, _pro, row = booked

    result = service.sync(session=session, now=NOW, request_ids=[row.id], send=False)

    assert (result["confirmed"], result["mails"]) == (1, 0) and notices() == []
    assert _sync(session, row) == {"services": 0}


def test_a_published_plan_mails_each_professional_once_with_only_their_changes(
        session, factories, notices):
    day = date.today() + timedelta(days=3)
    marta = factories.professional(name="Marta", email="marta.plan@example.com")
    rows = [factories.request(day=day, professional=marta, start=time(h)) for h in (9, 12)]
    untouched_pro = factories.professional(email="other.plan@example.com", skills=("ironing",))
    factories.request(day=day, professional=untouched_pro, skill="ironing", start=time(9))
    service.sync(session=session, now=datetime.now())
    before = len(notices())
    session.add(TimeOff(professional_id=marta.id, starts_on=day, ends_on=day))
    session.flush()
    pablo = factories.professional(name="Pablo", email="pablo.plan@example.com")

    run = assignment.run_plan(session, start=day, days=1, now=datetime.now(), time_limit_s=2)
    diff = assignment.publish(session, run=run)

    assert sorted(c.request.id for c in diff.moved) == [r.id for r in rows]
    new = notices()[before:]
    assert sorted(m.to_address for m in new) == sorted(
        [marta.email, pablo.email] + [r.client.email for r in rows])
    [to_marta] = [m for m in new if m.to_address == marta.email]
    assert to_marta.subject == "Cambios en tus servicios (2)"
    assert to_marta.body.count("YA NO ES TUYO") == 2
    assert len(_calendar(to_marta).walk("VEVENT")) == 2
    [to_pablo] = [m for m in new if m.to_address == pablo.email]
    assert to_pablo.body.count("NUEVO") == 2
    # the minute job that runs next finds nothing more to tell
    assert jobs.notify_booking_changes(session=session, now=datetime.now(), config={}) == {
        "services": 0}
