"""Fixtures of the notices' tests: the notices queued, a mail server that refuses an address."""

import pytest
import sqlalchemy as sa

from backoffice.models import OutboxMessage


@pytest.fixture()
def notices(session):
    """Return the booking notices in the outbox (optionally those to one address), oldest first."""

    def get(to: str | None = None) -> list[OutboxMessage]:
        q = (sa.select(OutboxMessage).where(OutboxMessage.dedup_key.like("notice:%"))
             .order_by(OutboxMessage.id))
        if to is not None:
            q = q.where(OutboxMessage.to_address == to)
        return list(session.scalars(q))

    return get


class _Refusing:
    """An SMTP server that refuses, for good, any recipient whose address says 'bounce'."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "bounce" in address:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def refusing_sink():
    from aiosmtpd.controller import Controller

    from backoffice.mailsink import _free_port

    handler = _Refusing()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    controller.messages = handler.messages
    yield controller
    controller.stop()
