"""The notices' jobs: tell booking changes every minute, remind clients, send agendas at 19:00."""

from datetime import datetime

from sqlalchemy.orm import Session

from notifications import service


def notify_booking_changes(*, session: Session, now: datetime, config) -> dict:
    """Tell clients and professionals the booking changes not told yet."""
    return service.sync(session=session, now=now)


def remind_clients(*, session: Session, now: datetime, config) -> dict:
    """Tell the changes first, then remind each client of tomorrow's service."""
    told = service.sync(session=session, now=now)
    return {"sync": told, **service.remind(session=session, now=now)}


def send_agendas(*, session: Session, now: datetime, config) -> dict:
    """Send each professional tomorrow's services."""
    return service.agenda(session=session, now=now)


# The scheduler runs in the back office's time zone (Europe/Madrid): 19:00 is Madrid's.
SCHEDULE = [
    (notify_booking_changes, "interval", {"minutes": 1}),
    (remind_clients, "cron", {"hour": 10, "minute": 0}),
    (send_agendas, "cron", {"hour": 19, "minute": 0}),
]
