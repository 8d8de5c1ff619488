"""Double bookings are refused by the database itself; agents racing get a clear message."""

import threading
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment import service
from backoffice import audit
from backoffice.db import make_engine
from backoffice.models import (
    Client,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
    WorkingShift,
)

DAY = date.today() + timedelta(days=4)


def _book(row, pro, hour, minute=0):
    row.professional_id = pro.id
    row.start_at = datetime.combine(DAY, time(hour, minute))
    row.end_at = row.start_at + timedelta(minutes=row.duration_min)
    row.status = RequestStatus.ASSIGNED


def test_the_database_refuses_an_overlapping_booking(session, factories):
    pro = factories.professional(name="Lola Ruiz")
    first = factories.request(day=DAY, professional=pro, start=time(9))
    second = factories.request(day=DAY)

    with pytest.raises(sa.exc.IntegrityError) as caught, session.begin_nested():
        _book(second, pro, 10)
        session.flush()

    assert service.is_double_booking(caught.value)
    message = service.conflict(session, professional_id=pro.id,
                               start_at=datetime.combine(DAY, time(10)),
                               end_at=datetime.combine(DAY, time(12)), exclude_id=second.id)
    assert message == (f"Lola Ruiz is already booked 09:00–11:00 on {DAY:%d/%m} "
                       f"for request #{first.id}")


@pytest.mark.parametrize("status", [RequestStatus.CANCELLED, RequestStatus.DONE])
def test_touching_and_inactive_bookings_do_not_clash(session, factories, status):
    pro = factories.professional()
    factories.request(day=DAY, professional=pro, start=time(9))  # 09:00-11:00
    old = factories.request(day=DAY, professional=pro, start=time(11))
    old.status, old.cancellation_reason = status, "client cancelled"
    session.flush()
    nxt = factories.request(day=DAY)
    _book(nxt, pro, 11)
    session.flush()  # 11:00 starts as 09:00-11:00 ends; the cancelled one no longer counts
    assert nxt.professional_id == pro.id


def test_a_service_pin_is_refused_with_the_clash_named(session, factories):
    pro = factories.professional(name="Iker Soler", shift=(time(8), time(13)))
    busy = factories.request(day=DAY, professional=pro, start=time(9))
    row = factories.request(day=DAY, start=time(9), window_end=time(12))

    with pytest.raises(ValueError, match=f"Iker Soler is already booked 09:00–11:00 .*#{busy.id}"):
        service.pin(session, request=row, professional=pro,
                    start_at=datetime.combine(DAY, time(10)))
    with pytest.raises(ValueError, match="start_at: Iker Soler works 08:00–13:00 .* 12:00–14:00"):
        service.pin(session, request=row, professional=pro,
                    start_at=datetime.combine(DAY, time(12)))
    with pytest.raises(ValueError, match="start_at: the client's window is 09:00–12:00"):
        service.pin(session, request=row, professional=pro,
                    start_at=datetime.combine(DAY, time(13)))


def test_swap_exchanges_professionals_even_when_their_times_overlap(session, factories):
    ana, ben = factories.professional(name="Ana"), factories.professional(name="Ben")
    a = factories.request(day=DAY, professional=ana, start=time(9))
    b = factories.request(day=DAY, professional=ben, start=time(10))

    service.swap(session, first=a, second=b)

    assert (a.professional_id, b.professional_id) == (ben.id, ana.id)
    assert a.pinned and b.pinned
    history = audit.history(session, "service_request", a.id)
    assert [e.changes["professional_id"] for e in history if e.action == "update"] == [
        [ana.id, ben.id]]
    assert history[-1].action == "swap" and history[-1].changes == {"with": b.id}


def test_swap_refuses_a_professional_without_the_skill(session, factories):
    ana = factories.professional(skills=("cleaning",))
    ben = factories.professional(skills=("gardening",))
    a = factories.request(day=DAY, professional=ana, start=time(9))
    b = factories.request(day=DAY, professional=ben, start=time(12), skill="gardening")
    with pytest.raises(ValueError, match="cannot take request"):
        service.swap(session, first=a, second=b)


@pytest.mark.postgres
def test_two_agents_racing_for_one_professional_one_wins(database_url, is_postgres):
    if not is_postgres:
        pytest.skip("the race needs two PostgreSQL connections; SQLite serialises writers")
    engine = make_engine(database_url)
    made: dict = {}
    try:
        with Session(engine) as s, audit.acting_as(audit.Actor(None, "test:race")):
            client = Client(name="Race client", lat=39.47, lon=-0.376, zone="Ciutat Vella")
            pro = Professional(name="Race Pro", skills="cleaning", lat=39.47, lon=-0.37,
                               status=ProfessionalStatus.APPROVED)
            pro.shifts = [WorkingShift(weekday=DAY.weekday(), start_time=time(8),
                                       end_time=time(16))]
            s.add_all([client, pro])
            s.flush()
            rows = [ServiceRequest(client_id=client.id, skill="cleaning", lat=39.47, lon=-0.376,
                                   service_date=DAY, window_start=time(9), window_end=time(11),
                                   duration_min=120) for _ in range(2)]
            s.add_all(rows)
            s.commit()
            made = {"client": client.id, "pro": pro.id, "rows": [r.id for r in rows]}
        results: dict = {}
        first_flushed, first_may_commit = threading.Event(), threading.Event()

        def agent(name: str, row_id: int, hour: int, first: bool):
            with Session(engine) as s, audit.acting_as(audit.Actor(None, f"test:{name}")):
                try:
                    row, pro = s.get(ServiceRequest, row_id), s.get(Professional, made["pro"])
                    if not first:
                        first_flushed.wait(10)  # both checked the slot: it looked free
                    service.pin(s, request=row, professional=pro,
                                start_at=datetime.combine(DAY, time(hour)))
                    if first:
                        first_flushed.set()
                        first_may_commit.wait(10)
                    s.commit()
                    results[name] = "booked"
                except ValueError as exc:
                    s.rollback()
                    results[name] = str(exc)

        one = threading.Thread(target=agent, args=("one", made["rows"][0], 9, True))
        two = threading.Thread(target=agent, args=("two", made["rows"][1], 10, False))
        one.start()
        two.start()
        first_flushed.wait(10)
        two.join(1.0)  # agent two is now blocked by the database on agent one's booking
        assert two.is_alive()
        first_may_commit.set()
        one.join(10)
        two.join(10)

        assert results["one"] == "booked"
        assert results["two"] == (f"professional: Race Pro is already booked 09:00–11:00 on "
                                  f"{DAY:%d/%m} "
                                  f"for request #{made['rows'][0]}")
    finally:
        with engine.begin() as conn:
            if made:
                conn.execute(sa.delete(ServiceRequest).where(
                    ServiceRequest.id.in_(made["rows"])))
                conn.execute(sa.delete(Professional).where(Professional.id == made["pro"]))
                conn.execute(sa.delete(Client).where(Client.id == made["client"]))
        engine.dispose()
