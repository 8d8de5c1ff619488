"""Where inbound mail comes from: an IMAP folder (read by UID) or a Maildir (read by file name).

Each reader hands every new message to handle(source=, key=, raw=) and commits after each
batch: at most `batch` mails, and no longer than `seconds` once a mail is done. The Mailbox row
remembers where reading stands (IMAP: UIDVALIDITY and the last UID) and whether the last
attempt reached the mailbox.
"""

import imaplib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cases.models import Mailbox, RawMail

log = logging.getLogger("cases.mail_in")
FETCH_BYTES = 20 * 1024 * 1024  # one IMAP FETCH asks for about this much mail at most
UID_RE = re.compile(rb"UID (\d+)")
SIZE_RE = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+)")

Handle = Callable[..., object]


@dataclass(frozen=True)
class ImapTarget:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def source(self) -> str:
        """Return the mailbox's name as stored: no password."""
        return f"imap:{self.user}@{self.host}/{self.folder}"[:120]


def parse_imap_url(url: str) -> ImapTarget:
    """Read imaps://user:pass@host:993/INBOX (or imap://, imap+starttls://) into its parts."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps", "imap+starttls") or not parts.hostname:
        raise ValueError("MAIL_IMAP_URL: expected imaps://user:password@host:993/INBOX")
    port = parts.port or (993 if parts.scheme == "imaps" else 143)
    return ImapTarget(scheme=parts.scheme, host=parts.hostname, port=port,
                      user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                      folder=unquote(parts.path.lstrip("/")) or "INBOX")


def read_imap(session: Session, *, url: str, handle: Handle, batch: int, seconds: float,
              now: datetime, counts: dict) -> None:
    """Hand over every message above the remembered UID; record failures on the Mailbox row."""
    try:
        target = parse_imap_url(url)
    except ValueError as exc:
        counts["errors"] += 1
        _failed(mailbox_row(session, "imap:?"), now, exc)
        return
    row = mailbox_row(session, target.source)
    row.last_attempt_at = now
    known_validity, last_uid = row.uidvalidity, row.last_uid
    session.commit()  # hold no database lock while talking to the server
    try:
        with _connect(target) as box:
            status = box.folder.status(target.folder, ["UIDVALIDITY"])
            validity = str(status["UIDVALIDITY"])
            if known_validity != validity:  # the folder was rebuilt: its UIDs start over
                last_uid = 0
            uids = sorted(int(u) for u in box.uids(f"UID {last_uid + 1}:*")
                          if int(u) > last_uid)
            for mails in _batches(box.client, uids, batch):
                # Fetched before the batch's transaction starts, then handed over; committed
                # at the batch's end or as soon as it has taken `seconds`. Only committed
                # mails are flagged \Seen, so a person reading the mailbox sees what is left.
                started, handled = time.monotonic(), []
                for uid, raw in mails:
                    handle(source=target.source, key=f"{validity}:{uid}", raw=raw)
                    last_uid = uid
                    handled.append(uid)
                    if time.monotonic() - started > seconds:
                        row.uidvalidity, row.last_uid = validity, last_uid
                        session.commit()
                        _flag_seen(box.client, handled)
                        started, handled = time.monotonic(), []
                row.uidvalidity, row.last_uid = validity, last_uid
                session.commit()
                _flag_seen(box.client, handled)
            row.uidvalidity, row.last_uid = validity, last_uid
    except sa.exc.SQLAlchemyError:
        raise
    except Exception as exc:  # unreachable, refused login, a dropped connection: next run
        counts["errors"] += 1
        log.warning("mailbox %s: %s", target.source, exc)
        _failed(row, now, exc)
        return
    _ok(row, now)


def _flag_seen(client: imaplib.IMAP4, uids: list[int]) -> None:
    """Flag handed-over mails \\Seen; a refusal is logged (the remembered UID already keeps
    them from being handled twice)."""
    if not uids:
        return
    typ, data = client.uid("STORE", ",".join(map(str, uids)), "+FLAGS.SILENT", "(\\Seen)")
    if typ != "OK":
        log.warning("could not flag %d mails as seen: %r", len(uids), data)


def _connect(target: ImapTarget):
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    kind = {"imaps": MailBox, "imap": MailBoxUnencrypted, "imap+starttls": MailBoxStartTls}
    box = kind[target.scheme](target.host, target.port, timeout=30)
    return box.login(target.user, target.password, initial_folder=target.folder)


def _batches(client: imaplib.IMAP4, uids: list[int], batch: int):
    """Yield lists of (uid, raw bytes): at most batch mails and about FETCH_BYTES (a 30 MB
    mail comes alone), so neither a transaction nor memory grows with the backlog."""
    for start in range(0, len(uids), batch):
        chunk = uids[start:start + batch]
        typ, data = client.uid("FETCH", ",".join(map(str, chunk)), "(UID RFC822.SIZE)")
        sizes = {}
        for item in data if typ == "OK" else []:
            m = SIZE_RE.search(item if isinstance(item, bytes) else item[0])
            if m:
                uid, size = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                sizes[int(uid)] = int(size)
        group, total = [], 0
        for uid in chunk:
            if uid not in sizes:  # expunged since the search
                continue
            if group and total + sizes[uid] > FETCH_BYTES:
                yield _fetch_group(client, group)
                group, total = [], 0
            group.append(uid)
            total += sizes[uid]
        if group:
            yield _fetch_group(client, group)


def _fetch_group(client: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    typ, data = client.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data!r}"[:200])
    found = []
    for item in data:
        if isinstance(item, tuple):
            m = UID_RE.search(item[0])
            if m:
                found.append((int(m.group(1)), item[1]))
    return sorted(found)


def read_maildir(session: Session, *, path: str, handle: Handle, batch: int, seconds: float,
                 now: datetime, counts: dict) -> None:
    """Hand over the files of new/ and the unseen ones of cur/; file them as seen in cur/."""
    folder = Path(path).resolve()
    source = f"maildir:{folder}"[:120]
    row = mailbox_row(session, source)
    row.last_attempt_at = now
    try:
        files = _maildir_files(folder)
    except OSError as exc:
        counts["errors"] += 1
        _failed(row, now, exc)
        return
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        keys = [key for key, _ in chunk]
        done = set(session.scalars(sa.select(RawMail.source_key).where(
            RawMail.source == source, RawMail.source_key.in_(keys))))
        started, handled = time.monotonic(), []
        for key, file in chunk:
            handled.append((key, file))
            if key in done:
                counts["duplicate"] += 1
                continue
            try:
                raw = file.read_bytes()
            except FileNotFoundError:  # another scheduler filed it meanwhile
                continue
            handle(source=source, key=key, raw=raw)
            if time.monotonic() - started > seconds:
                _commit_and_file(session, folder, handled)
                started, handled = time.monotonic(), []
        _commit_and_file(session, folder, handled)
    _ok(row, now)


def _commit_and_file(session: Session, folder: Path, handled: list) -> None:
    session.commit()
    for key, file in handled:  # only once stored: a crash before leaves them in new/
        _mark_seen(folder, key, file)


def _maildir_files(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for sub in ("new", "cur"):
        with os.scandir(folder / sub) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                base, _, info = entry.name.partition(":")
                if sub == "cur" and "S" in info.partition(",")[2]:
                    continue  # seen: handled by us (or read by a person) before
                found.append((base, Path(entry.path)))
    return sorted(found, key=lambda kv: kv[0])


def _mark_seen(folder: Path, key: str, file: Path) -> None:
    flags = file.name.partition(":")[2].partition(",")[2] if file.parent.name == "cur" else ""
    target = folder / "cur" / f"{key}:2,{''.join(sorted(set(flags + 'S')))}"
    try:
        os.rename(file, target)
    except FileNotFoundError:
        pass


def mailbox_row(session: Session, source: str) -> Mailbox:
    """Return the Mailbox row of a source, creating it once (two schedulers may race)."""
    row = session.scalar(sa.select(Mailbox).where(Mailbox.source == source))
    if row is None:
        try:
            with session.begin_nested():
                row = Mailbox(source=source)
                session.add(row)
        except sa.exc.IntegrityError:
            row = session.scalar(sa.select(Mailbox).where(Mailbox.source == source))
    return row


def _ok(row: Mailbox, now: datetime) -> None:
    row.last_ok_at, row.last_error, row.failures = now, None, 0


def _failed(row: Mailbox, now: datetime, exc: Exception) -> None:
    row.last_attempt_at = now
    row.last_error = f"{type(exc).__name__}: {exc}"[:255]
    row.failures = (row.failures or 0) + 1
