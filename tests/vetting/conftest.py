"""Builders for vetting tests: applicants, documents, checks and interviews in a known state."""

from datetime import date, datetime, timedelta

import pytest

from backoffice.models import ProfessionalStatus
from vetting import checks, service, workflow
from vetting.documents import required_types
from vetting.models import Application, CheckKind, Stage

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
NOW = datetime(2026, 11, 23, 10, 0)


class Vet:
    def __init__(self, session, app, factories, make_user):
        self.session, self.app, self.factories, self.make_user = session, app, factories, make_user

    def applicant(self, *, skills=("cleaning",), now=NOW, **kw) -> Application:
        pro = self.factories.professional(skills=skills, status=ProfessionalStatus.APPLICANT, **kw)
        return service.create_application(self.session, professional=pro, now=now)

    def document(self, pro, doc_type, *, expires_on=None, accept=True, user=None, data=PDF):
        doc = service.add_document(
            self.session, professional=pro, doc_type=doc_type, data=data,
            filename=f"{doc_type}.pdf",
            upload_dir=self.app.config["UPLOAD_DIR"], max_bytes=10 * 1024 * 1024, number="X123",
            issued_on=date(2024, 1, 1), expires_on=expires_on or date(2030, 1, 1), user=user)
        if accept:
            service.review_document(self.session, document=doc, accept=True, user=user,
                                    now=NOW)
        return doc

    def all_documents(self, pro, **kw) -> None:
        for t in required_types(pro.skill_list):
            self.document(pro, t, **kw)

    def clear_checks(self, app: Application, user=None) -> None:
        for i in range(2):
            checks.add_reference(self.session, application=app, name=f"Ref {i}",
                                 contact=f"ref{i}@example.com", contacted=True,
                                 outcome="positive", now=NOW)
        for kind in CheckKind:
            checks.record_check(self.session, application=app, kind=kind, status="clear",
                                user=user, external_ref="CRC-1" if kind == "background" else None)

    def pass_interview(self, app: Application, user=None) -> None:
        iv = service.schedule_interview(self.session, application=app, at=NOW, interviewer=user)
        service.record_interview(self.session, interview=iv, outcome="pass", user=user, notes=None,
                                 scores={k: 4 for k in service.SCORE_CRITERIA})

    def ready_for(self, app: Application, to: Stage, user) -> None:
        """Fulfil what moving to `to` needs."""
        if to in (Stage.CHECKS, Stage.APPROVED):
            self.all_documents(app.professional)
        if to in (Stage.INTERVIEW, Stage.APPROVED):
            self.clear_checks(app, user)
        if to in (Stage.DECISION, Stage.APPROVED):
            self.pass_interview(app, user)

    def bring_to(self, app: Application, stage: Stage, user, now=NOW) -> Application:
        """Walk an application along the happy path up to stage (decision prepared by user)."""
        path = [Stage.DOCUMENTS, Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION]
        t = now
        for step in path:
            if app.stage == stage:
                break
            self.ready_for(app, step, user)
            t += timedelta(hours=5)
            workflow.transition(self.session, application=app, to=step, user=user, now=t)
        return app


@pytest.fixture()
def vet(session, app, factories, make_user):
    return Vet(session, app, factories, make_user)
