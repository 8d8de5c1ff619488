"""Jobs of the core: deliver the mail outbox, close the tasks whose cause is gone, close the day."""

from datetime import datetime

from sqlalchemy.orm import Session

from backoffice import mail
from backoffice.services import closing, tasks


def deliver_outbox(*, session: Session, now: datetime, config) -> int:
    """Send the outbox's unsent mails."""
    return mail.deliver(session, host=config["SMTP_HOST"], port=config["SMTP_PORT"],
                        sender=config["MAIL_FROM"])


def close_resolved_tasks(*, session: Session, now: datetime, config) -> dict:
    """Close the job-made tasks whose cause is gone, by the checkers the domains registered
    (the scheduler imports every domain's jobs, and with them their checkers)."""
    return tasks.close_resolved(session, now=now)


def find_duplicate_clients(*, session: Session, now: datetime, config) -> int:
    """Search the clients for likely duplicates; the duplicates page reads what it found."""
    from backoffice.services import merge

    return merge.refresh_suggestions(session)


def close_services(*, session: Session, now: datetime, config) -> dict | None:
    """Mark the past services done, holding those with a complaint or a no-show."""
    return closing.close_day(session, now=now)


SCHEDULE = [(deliver_outbox, "interval", {"seconds": 30}),
            (close_resolved_tasks, "interval", {"minutes": 1}),
            (close_services, "cron", {"hour": 2, "minute": 30}),
            (find_duplicate_clients, "cron", {"hour": 3, "minute": 15})]
