"""A throwaway Dovecot IMAP server on a loopback port, and mails to deliver to it.

Debian's dovecot-imapd, started in the foreground with a configuration of its own in a temporary
folder: plain passwords over loopback, one Maildir per user under that folder, logs in a file.
Mail reaches it by IMAP APPEND, a real delivery to a real server. Run as root (CI), the mail
files belong to `nobody` (Dovecot refuses uid 0 for mail); run as anybody else, to that user.
MAIL_TESTS_REQUIRED=1 (CI) turns a missing or broken Dovecot into a failure instead of a skip.
"""

import datetime
import getpass
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "imap-secret"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
mail_fsync = never
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """A running server; each test takes a fresh user (a fresh, empty INBOX) with mailbox()."""

    root: Path
    port: int
    process: subprocess.Popen
    host: str = "127.0.0.1"

    def mailbox(self) -> "ImapBox":
        return ImapBox(self, f"desk-{uuid.uuid4().hex[:12]}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ImapBox:
    server: Dovecot
    user: str

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{PASSWORD}@{self.server.host}:{self.server.port}/INBOX"

    @property
    def source(self) -> str:
        return f"imap:{self.user}@{self.server.host}/INBOX"

    def append(self, *mails: bytes) -> None:
        """Deliver mails into the INBOX over IMAP APPEND."""
        imap = imaplib.IMAP4(self.server.host, self.server.port, timeout=30)
        try:
            imap.login(self.user, PASSWORD)
            for raw in mails:
                status, data = imap.append("INBOX", None, None, raw)
                assert status == "OK", data
        finally:
            imap.logout()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("MAIL_TESTS_REQUIRED"):
        pytest.fail(f"{reason} (MAIL_TESTS_REQUIRED is set: apt-get install dovecot-imapd)")
    pytest.skip(reason)


def start() -> Dovecot:
    """Start Dovecot on a free loopback port; fail or skip (see module doc) if it cannot run."""
    if not Path(DOVECOT).exists():
        _unavailable(f"{DOVECOT} is missing")
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    root.chmod(0o755)  # the mail user (nobody when we are root) walks into mail/
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    if os.getuid() == 0:
        mail_user = pwd.getpwnam("nobody")
        login_user, internal_user = "dovenull", "dovecot"
        os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
    else:
        login_user = internal_user = getpass.getuser()
        uid, gid = os.getuid(), os.getgid()
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port, uid=uid, gid=gid, password=PASSWORD,
                                  login_user=login_user, internal_user=internal_user))
    process = subprocess.Popen([DOVECOT, "-c", str(conf), "-F"], stdout=subprocess.DEVNULL,
                               stderr=open(root / "stderr.log", "wb"))
    server = Dovecot(root=root, port=port, process=process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.05)
    why = (root / "stderr.log").read_text(errors="replace") + server.log()
    server.stop()
    _unavailable(f"dovecot did not start: {why.strip()[-800:]}")


# Named apart from their fixtures so a test module imports them without shadowing its arguments:
#   from tests.cases.dovecot import dovecot_fixture, imap_box_fixture  # noqa: F401
@pytest.fixture(scope="session", name="dovecot")
def dovecot_fixture():
    server = start()
    yield server
    server.stop()


@pytest.fixture(name="imap_box")
def imap_box_fixture(dovecot) -> ImapBox:
    """A fresh, empty IMAP INBOX on the test server."""
    return dovecot.mailbox()


# Mails as the desk receives them.

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SENT = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


def address(name: str = "someone") -> str:
    """Return an address no other test uses."""
    return f"{name}.{uuid.uuid4().hex[:8]}@mail.example.org"


def mail(*, sender: str | None = "ana@example.org", subject: str = "Cambio de hora",
         body: str = "Hola, ¿pueden venir el jueves a las 10?",
         to: str = "desk@backoffice.example", message_id: str | None = None,
         in_reply_to: str | None = None, references: str | None = None,
         headers: dict | None = None, html: str | None = None,
         files: tuple[tuple[str, str, bytes], ...] = ()) -> bytes:
    """Return a raw mail; files are (name, declared content type, data)."""
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(SENT)
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example.org")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    for name, value in (headers or {}).items():  # after the body: set_content drops Content-*
        msg[name] = value
    return bytes(msg)
