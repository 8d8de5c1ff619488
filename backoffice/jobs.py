"""Jobs of the core: deliver the mail outbox."""

from datetime import datetime

from sqlalchemy.orm import Session

from backoffice import mail


def deliver_outbox(*, session: Session, now: datetime, config) -> int:
    """Send the outbox's unsent mails."""
    return mail.deliver(session, host=config["SMTP_HOST"], port=config["SMTP_PORT"],
                        sender=config["MAIL_FROM"])


SCHEDULE = [(deliver_outbox, "interval", {"seconds": 30})]
