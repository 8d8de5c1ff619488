"""The day before: clients' reminders, professionals' agendas, opt-outs and failing addresses."""

from datetime import date, datetime, time

import icalendar
import sqlalchemy as sa
from click.testing import CliRunner

from backoffice import mail
from backoffice.cli import Runtime
from backoffice.db import db
from backoffice.models import AuditEvent, ClientStatus
from backoffice.services import requests
from notifications import jobs, service
from notifications.commands import notifications_group

DAY = date(2027, 1, 20)
EVE = datetime(2027, 1, 19, 10, 0)  # the day before, when the reminders go
EVENING = datetime(2027, 1, 19, 19, 0)


def _remind(session, now=EVE):
    return jobs.remind_clients(session=session, now=now, config={})


def test_a_client_is_reminded_once_the_day_before(session, factories, notices):
    pro = factories.professional(name="Marta Ruiz")
    row = factories.request(client=factories.client(language="es"), professional=pro, day=DAY,
                            start=time(9, 30))
    later = factories.request(client=row.client, professional=pro, day=date(2027, 1, 21),
                              start=time(9))

    result = _remind(session)

    # the booking is told first, then the reminder of tomorrow (not of the day after)
    assert result["sync"]["confirmed"] == 2 and result["mails"] == 1
    reminder = notices(row.client.email)[-1]
    assert reminder.subject == "Recordatorio: mañana limpieza a las 09:30"
    assert "Quién va: Marta Ruiz" in reminder.body
    assert "miércoles, 20 de enero de 2027, de 09:30 a 11:30" in reminder.body
    [event] = icalendar.Calendar.from_ical(mail.calendar_text(reminder.calendar)).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime.fromisoformat("2027-01-20T08:30:00+00:00")
    assert str(event["UID"]) == f"service-request-{row.id}@backoffice"
    assert _remind(session) == {"sync": {"services": 0}, "services": 1, "mails": 0}
    assert all(f":{later.id}:" not in m.dedup_key for m in notices() if "reminder" in m.dedup_key)


def test_no_reminder_for_the_opted_out_the_failing_or_the_erased(session, factories, notices):
    pro = factories.professional()
    opted_out = factories.client(reminders_opt_out=True)
    failing = factories.client(email_failing_since=datetime(2027, 1, 2))
    erased = factories.client(status=ClientStatus.ERASED)
    keen = factories.client()
    for client in (opted_out, failing, erased, keen):
        factories.request(client=client, professional=pro, day=DAY, start=time(9))
        pro = factories.professional()

    result = _remind(session)

    assert result["mails"] == 1
    reminders = [m.to_address for m in notices() if m.template == "notifications/reminder"]
    assert reminders == [keen.email]
    # the failing address still hears of its booking: only reminders stop
    assert [m.template for m in notices(failing.email)] == ["notifications/booking_confirmed"]


def test_the_daily_agenda_lists_tomorrow_once_per_professional(session, factories, notices):
    pro = factories.professional(name="Pablo", language="en")
    rows = [factories.request(client=factories.client(name=name, address=f"{name} street 1"),
                              professional=pro, day=DAY, start=time(h))
            for name, h in (("Carmen", 12), ("Diego", 9))]
    factories.request(professional=pro, day=date(2027, 1, 21))
    cancelled = factories.request(professional=pro, day=DAY, start=time(15))
    requests.cancel(session, request=cancelled, reason="not needed", now=EVENING)
    quiet = factories.professional(reminders_opt_out=True)
    factories.request(professional=quiet, day=DAY)
    bouncing = factories.professional(email_failing_since=datetime(2027, 1, 2))
    factories.request(professional=bouncing, day=DAY)

    result = jobs.send_agendas(session=session, now=EVENING, config={})

    assert result == {"professionals": 1, "services": 2, "mails": 1}
    [agenda] = notices(pro.email)
    assert agenda.subject == "Your agenda for tomorrow, Wednesday, January 20, 2027: 2 services"
    lines = [line for line in agenda.body.splitlines() if line.startswith("- ")]
    assert lines == [
        f"- 09:00-11:00: cleaning for Diego, Diego street 1 (no. {rows[1].id})",
        f"- 12:00-14:00: cleaning for Carmen, Carmen street 1 (no. {rows[0].id})"]
    cal = icalendar.Calendar.from_ical(mail.calendar_text(agenda.calendar))
    assert cal["METHOD"] == "PUBLISH"
    assert sorted(e.decoded("DTSTART").hour for e in cal.walk("VEVENT")) == [8, 11]
    assert jobs.send_agendas(session=session, now=EVENING, config={})["mails"] == 0
    assert notices(quiet.email) == [] and notices(bouncing.email) == []


def test_other_languages_read_spanish(session, factories, notices):
    client = factories.client(language="ca")
    row = factories.request(client=client, professional=factories.professional(language="de"),
                            day=DAY)

    service.sync(session=session, now=EVE, request_ids=[row.id])

    assert notices(client.email)[0].subject.startswith("Servicio confirmado: limpieza el miércoles")
    assert notices(row.professional.email)[0].subject == "Cambios en tus servicios (1)"


def test_set_reminders_is_audited_and_stops_them(session, factories, notices):
    client = factories.client()
    factories.request(client=client, professional=factories.professional(), day=DAY)

    service.set_reminders(session=session, person=client, enabled=False)

    assert client.reminders_opt_out is True
    change = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "client", AuditEvent.entity_id == str(client.id))
        .order_by(AuditEvent.id.desc())).first()
    assert change.changes["reminders_opt_out"] == [False, True]
    assert _remind(session)["mails"] == 0
    service.set_reminders(session=session, person=client, enabled=True)
    assert _remind(session)["mails"] == 1


def test_cli_runs_each_job_for_a_given_moment(session, app, factories, notices):
    client = factories.client()
    pro = factories.professional()
    factories.request(client=client, professional=pro, day=DAY)
    rt = Runtime(app.config, sessionmaker=db.sessionmaker)  # on the test's connection
    runner = CliRunner()

    done = runner.invoke(notifications_group, ["sync", "--now", "2027-01-19T09:00"], obj=rt)
    assert done.exit_code == 0, done.output
    assert "confirmed 1" in done.output and "mails 2" in done.output
    done = runner.invoke(notifications_group, ["reminders", "--now", "2027-01-19T10:00"], obj=rt)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "Reminders: mails 1, services 1"
    done = runner.invoke(notifications_group, ["agenda", "--now", "2027-01-19T19:00"], obj=rt)
    assert done.output == "Agendas: mails 1, professionals 1, services 1\n"
    done = runner.invoke(notifications_group, ["set-reminders", "professional", str(pro.id),
                                               "off"], obj=rt)
    session.refresh(pro)
    assert done.exit_code == 0 and pro.reminders_opt_out is True
    bad = runner.invoke(notifications_group, ["agenda", "--now", "tomorrow"], obj=rt)
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
    bad = runner.invoke(notifications_group, ["set-reminders", "client", "0", "off"], obj=rt)
    assert bad.exit_code == 2 and "no client #0" in bad.output
    assert len(notices()) == 4


def test_the_scheduler_runs_the_notices_every_minute_and_the_agenda_at_seven_pm():
    from backoffice.scheduler import job_specs

    specs = {func.__name__: (trigger, args) for func, trigger, args in job_specs()}
    assert specs["notify_booking_changes"] == ("interval", {"minutes": 1})
    assert specs["send_agendas"] == ("cron", {"hour": 19, "minute": 0})
    assert specs["remind_clients"][0] == "cron"
