"""A local SMTP server that keeps what it receives: for the demo and the tests."""

import mailbox
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, maildir: Path | None):
        self.messages: list[EmailMessage] = []
        self.box = mailbox.Maildir(str(maildir)) if maildir else None

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(msg)
        if self.box is not None:
            self.box.add(envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    """Start with start(); received mails are in .messages (and a Maildir when given)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, maildir: Path | None = None):
        self.handler = _Handler(maildir)
        self.controller = Controller(self.handler, hostname=host, port=port or _free_port())

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> "MailSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
