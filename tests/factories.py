"""Factories for the core entities: each call makes one valid row, overridable by keyword."""

import itertools
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from backoffice.models import (
    Client,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
    WorkingShift,
)

_seq = itertools.count(1)


class Factories:
    def __init__(self, session: Session):
        self.session = session

    def client(self, **kw) -> Client:
        n = next(_seq)
        values = {"name": f"Client {n}", "email": f"client{n}@example.com",
                  "phone": "+34 600 000 000", "address": f"Calle {n}, Valencia",
                  "lat": 39.47, "lon": -0.376, "zone": "Ciutat Vella"}
        values.update(kw)
        obj = Client(**values)
        self.session.add(obj)
        self.session.flush()
        return obj

    def professional(self, *, skills=("cleaning",), weekdays=range(7),
                     shift=(time(8), time(16)), **kw) -> Professional:
        n = next(_seq)
        values = {"name": f"Pro {n}", "email": f"pro{n}@example.com", "phone": "+34 611 000 000",
                  "lat": 39.47, "lon": -0.37, "zone": "Ciutat Vella",
                  "skills": ",".join(skills), "status": ProfessionalStatus.APPROVED,
                  "max_minutes_per_week": 2400}
        values.update(kw)
        obj = Professional(**values)
        obj.shifts = [WorkingShift(weekday=d, start_time=shift[0], end_time=shift[1])
                      for d in weekdays]
        self.session.add(obj)
        self.session.flush()
        return obj

    def request(self, *, client: Client | None = None, professional: Professional | None = None,
                day: date | None = None, start: time = time(9), **kw) -> ServiceRequest:
        client = client or self.client()
        day = day or date.today() + timedelta(days=1)
        values = {"client": client, "skill": "cleaning", "lat": client.lat, "lon": client.lon,
                  "zone": client.zone, "service_date": day, "window_start": start,
                  "window_end": (datetime.combine(day, start) + timedelta(hours=2)).time(),
                  "duration_min": 120, "priority": 1, "status": RequestStatus.NEW,
                  "price_cents": 3000}
        values.update(kw)
        obj = ServiceRequest(**values)
        if professional is not None:
            obj.professional_id = professional.id
            obj.start_at = datetime.combine(day, start)
            obj.end_at = obj.start_at + timedelta(minutes=obj.duration_min)
            if obj.status == RequestStatus.NEW:
                obj.status = RequestStatus.ASSIGNED
        self.session.add(obj)
        self.session.flush()
        return obj
