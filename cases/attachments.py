"""Files that came with a mail: typed by content, size-limited, kept privately by a random name.

The same rules as vetting's documents (vetting/documents.py), kept apart so the desk does not
import vetting: the type is read from the first bytes, never from the name or the header the
sender chose; a file over the limit or of a type we do not keep gets a row with its metadata and
a note, no file (the raw mail still holds it). Files live under UPLOAD_DIR/cases.
"""

import json
import re
import zipfile
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from backoffice import files
from cases.models import Article, Attachment

SUBFOLDER = "cases"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAGIC = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)
OFFICE = (  # zip containers told apart by the part that names them
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
     "pptx"),
)
EXTENSIONS = ("pdf", "jpg", "png", "gif", "webp", "docx", "xlsx", "pptx", "odt", "ods", "txt")
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(" + "|".join(EXTENSIONS) + r")$")


# Why a part was not kept, as the case page says it; the row stores the key and its values
# (JSON), worded in each reader's language when shown (#18).
REFUSED = {
    "unreadable": "empty or unreadable part; the raw mail holds what arrived",
    "too_large": "too large: %(size)s MB, the limit is %(limit)s MB; kept in the raw mail only",
    "type": "type not accepted (checked by content); kept in the raw mail only",
}


def refused_note(key: str, **values) -> str:
    """Return the stored note of a part not kept: its reason's key and values."""
    return json.dumps({"key": key, **values})


def refused_reason(note: str | None) -> tuple[str, dict] | None:
    """Return (English text, values) of a stored note, or None for a note written as text."""
    try:
        values = json.loads(note or "")
        return REFUSED[values.pop("key")], values
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def sniff(data: bytes) -> tuple[str, str] | None:
    """Return (content type, extension) read from the content, None for a type we do not keep."""
    for magic, content_type, ext in MAGIC:
        if data.startswith(magic):
            return content_type, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if b"\x00" not in data[:8192]:
        try:
            data[:65536].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < 65536 - 4:  # not just a character cut at the sample's end
                return None
        return "text/plain", "txt"
    return None


def _sniff_zip(data: bytes) -> tuple[str, str] | None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            names = z.namelist()
            if "mimetype" in names:
                kind = z.read("mimetype")[:100]
                if kind == b"application/vnd.oasis.opendocument.text":
                    return kind.decode(), "odt"
                if kind == b"application/vnd.oasis.opendocument.spreadsheet":
                    return kind.decode(), "ods"
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return None
    if "[Content_Types].xml" in names:
        for prefix, content_type, ext in OFFICE:
            if any(n.startswith(prefix) for n in names):
                return content_type, ext
    return None  # a plain archive may hold anything: not kept


def sanitise_name(name: str | None) -> str:
    """Reduce a sent file name to a harmless label (no folders, no control characters)."""
    return files.sanitise_name(name, default="attachment")


def folder(upload_dir: str) -> Path:
    return Path(upload_dir) / SUBFOLDER


def keep(*, article: Article, name: str | None, data: bytes | None, declared_type: str,
         upload_dir: str, max_bytes: int = DEFAULT_MAX_BYTES, size: int | None = None
         ) -> Attachment:
    """Return the attachment row of a mail's file, stored if its size and content allow."""
    size = len(data) if data is not None else (size or 0)
    row = Attachment(article=article, original_name=sanitise_name(name), size=size,
                     content_type=(declared_type or "application/octet-stream")[:100])
    if data is None or not data:
        row.note = refused_note("unreadable")
    elif size > max_bytes:
        row.note = refused_note("too_large", size=round(size / 1048576, 1),
                                limit=round(max_bytes / 1048576))
    elif (kind := sniff(data)) is None:
        row.note = refused_note("type")
    else:
        row.content_type, ext = kind
        row.stored_name, row.sha256 = store(upload_dir, data, ext)
    return row


def store(upload_dir: str, data: bytes, ext: str) -> tuple[str, str]:
    """Write data under a new random name in the cases folder; return (stored name, sha256)."""
    return files.write_private(folder(upload_dir), data, ext)


def stored_path(upload_dir: str, stored_name: str | None) -> Path:
    """Return the file of a stored name, refusing anything that is not one of our names."""
    if not stored_name or not STORED_NAME.match(stored_name):
        raise ValueError("file: this attachment has no stored file")
    return folder(upload_dir) / stored_name


def sweep_orphans(session, *, upload_dir: str, now: datetime,
                  older_than: timedelta = timedelta(hours=1)) -> int:
    """Remove stored files no attachment names, older than older_than; return how many.

    A mail's files are written before its transaction commits; a transaction that rolls back
    (a refused mail, a crash) leaves its files behind. The age spares files whose transaction
    is still running.
    """
    import sqlalchemy as sa

    base = folder(upload_dir)
    if not base.is_dir():
        return 0
    limit = now.timestamp() - older_than.total_seconds()
    candidates = {p.name: p for p in base.iterdir()
                  if p.is_file() and STORED_NAME.match(p.name) and p.stat().st_mtime < limit}
    names = sorted(candidates)
    removed = 0
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        known = set(session.scalars(sa.select(Attachment.stored_name).where(
            Attachment.stored_name.in_(chunk))))
        for name in chunk:
            if name not in known:
                candidates[name].unlink(missing_ok=True)
                removed += 1
    return removed
