"""What erasing a professional means for vetting: their document files go, and what vetting
wrote about them (notes, references' contacts, interview scorecards) is emptied."""

import contextlib
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import erasure
from backoffice.erasure import ERASED
from backoffice.models import Professional
from vetting import documents
from vetting.models import (
    Application,
    Check,
    Document,
    Incident,
    Interview,
    Reference,
    StageVisit,
)


def erase_professional(session: Session, *, professional: Professional,
                       config: Mapping | None) -> list[str]:
    """Delete the professional's stored files and empty vetting's free text about them;
    return the text cleared, for the caller to erase wherever else it stands."""
    apps = sa.select(Application.id).where(Application.professional_id == professional.id)
    mine = Document.professional_id == professional.id
    cleared = [
        *erasure.cells(session, Document.number, Document.original_name,
                       Document.rejection_reason, where=mine),
        *erasure.cells(session, Application.note, where=Application.professional_id
                       == professional.id),
        *erasure.cells(session, StageVisit.note, where=StageVisit.application_id.in_(apps)),
        *erasure.cells(session, Check.external_ref, Check.notes,
                       where=Check.application_id.in_(apps)),
        *erasure.cells(session, Reference.name, Reference.contact, Reference.relationship_to,
                       Reference.notes, where=Reference.application_id.in_(apps)),
        *erasure.cells(session, Interview.notes, where=Interview.application_id.in_(apps)),
        *erasure.cells(session, Incident.note, where=Incident.professional_id == professional.id),
    ]
    upload_dir = (config or {}).get("UPLOAD_DIR")
    docs = session.scalars(sa.select(Document.stored_name).where(
        Document.professional_id == professional.id, Document.stored_name.is_not(None)))
    for stored_name in docs:
        # A file already gone is as erased as it gets; a name that is not ours is no file.
        with contextlib.suppress(ValueError, FileNotFoundError):
            if upload_dir:
                documents.stored_path(upload_dir, stored_name).unlink()
    session.execute(sa.update(Document).where(mine)
                    .values(number=None, original_name=None, stored_name=None, sha256=None,
                            rejection_reason=None))
    session.execute(sa.update(Application).where(Application.professional_id == professional.id)
                    .values(note=None))
    session.execute(sa.update(StageVisit).where(StageVisit.application_id.in_(apps))
                    .values(note=None))
    session.execute(sa.update(Check).where(Check.application_id.in_(apps))
                    .values(external_ref=None, notes=None))
    session.execute(sa.update(Reference).where(Reference.application_id.in_(apps))
                    .values(name=ERASED, contact=ERASED, relationship_to=None, notes=None))
    session.execute(sa.update(Interview).where(Interview.application_id.in_(apps))
                    .values(scorecard=None, notes=None))
    session.execute(sa.update(Incident).where(Incident.professional_id == professional.id)
                    .values(note=None))
    return cleared
