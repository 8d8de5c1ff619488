"""Which documents a professional needs, whether they are valid, and the files behind them.

Files are checked by content (magic bytes), never by the name the browser sent, and stored
under UPLOAD_DIR by a random name; the original name is kept only as sanitised metadata.
"""

import re
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import files
from backoffice.i18n import Refusal
from vetting.models import Document, DocumentStatus

DOC_TYPES = {
    "identity": "Identity (DNI/NIE/passport)",
    "right_to_work": "Right to work",
    "insurance": "Liability insurance",
    "first_aid": "First aid certificate",
    "childcare_certificate": "Childcare certificate",
    "care_certificate": "Elderly care certificate",
}
BASE_REQUIRED = ("identity", "right_to_work", "insurance")
# Caring for people needs more than cleaning a flat.
SKILL_REQUIRED = {
    "elderly_care": ("first_aid", "care_certificate"),
    "childcare": ("first_aid", "childcare_certificate"),
}
MAGIC = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|jpg|png)$")


def required_types(skills: list[str]) -> list[str]:
    """Return the document types a professional with these skills must hold, in order."""
    needed = list(BASE_REQUIRED)
    for skill in skills:
        for t in SKILL_REQUIRED.get(skill, ()):
            if t not in needed:
                needed.append(t)
    return needed


def is_valid(doc: Document, on: date) -> bool:
    """Tell whether a document counts on a day: accepted and not past its expiry date."""
    in_date = doc.expires_on is None or doc.expires_on >= on
    return doc.status == DocumentStatus.ACCEPTED and in_date


def documents_of(session: Session, professional_id: int) -> list[Document]:
    """Return a professional's documents, newest first."""
    return list(session.scalars(
        sa.select(Document).where(Document.professional_id == professional_id)
        .order_by(Document.id.desc())
    ))


def missing_required(session: Session, *, professional, on: date) -> list[str]:
    """Return the required document types without a valid document on a day."""
    valid = {d.doc_type for d in documents_of(session, professional.id) if is_valid(d, on)}
    return [t for t in required_types(professional.skill_list) if t not in valid]


def sniff(data: bytes) -> tuple[str, str] | None:
    """Return (content type, extension) from the file's first bytes, None if not allowed."""
    for magic, content_type, ext in MAGIC:
        if data.startswith(magic):
            return content_type, ext
    return None


def sanitise_name(name: str | None) -> str:
    """Reduce a sent file name to a harmless label (no folders, no control characters)."""
    return files.sanitise_name(name, default="document")


def check_upload(data: bytes, *, field: str, max_bytes: int) -> tuple[str, str]:
    """Refuse empty, too large or not PDF/JPEG/PNG content; return (content type, extension)."""
    if not data:
        raise Refusal("%(field)s: the file is empty", field=field)
    if len(data) > max_bytes:
        raise Refusal("%(field)s: the file is %(size).1f MB; the limit is %(limit).0f MB",
                      field=field, size=len(data) / 1048576, limit=max_bytes / 1048576)
    kind = sniff(data)
    if kind is None:
        raise Refusal("%(field)s: only PDF, JPEG or PNG files are accepted (checked by "
                      "content, not by the name)", field=field)
    return kind


def store(upload_dir: str, data: bytes, ext: str) -> tuple[str, str]:
    """Write data under a new random name; return (stored name, sha256)."""
    return files.write_private(Path(upload_dir), data, ext)


def stored_path(upload_dir: str, stored_name: str | None) -> Path:
    """Return the file of a stored name, refusing anything that is not one of our names."""
    if not stored_name or not STORED_NAME.match(stored_name):
        raise ValueError("file: this document has no stored file")
    return Path(upload_dir) / stored_name
