"""The vetting queue, the application page and its forms, file downloads, the funnel."""

from datetime import date, datetime

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from backoffice import audit
from backoffice.admin.base import SecureView, commit_or_flash, refusal
from backoffice.admin.dates import bad_moment_message
from backoffice.admin.urls import parse_id
from backoffice.admin.validators import form_date
from backoffice.days import parse_moment
from backoffice.db import db
from backoffice.i18n import in_context
from backoffice.models import SKILLS, Professional, StaffUser
from backoffice.redirects import safe_referrer
from vetting import checks, documents, reports, service, workflow
from vetting.models import Application, CheckKind, CheckStatus, Document, Interview, Stage


class VettingView(SecureView):
    allowed_roles = frozenset({"vetting"})

    def _app(self, app_id: int) -> Application:
        app = db.session.get(Application, app_id)
        if app is None:
            abort(404)
        return app


    @expose("/")
    def index(self):
        stage = request.args.get("stage") or None
        stage = Stage(stage) if stage in {s.value for s in workflow.OPEN_STAGES} else None
        now = datetime.now()
        return self.render("admin/vetting_queue.html", rows=reports.queue(
            db.session, stage=stage, now=now), counts=reports.stage_counts(db.session, now=now),
            stage=stage, stages=workflow.OPEN_STAGES, reasons=workflow.REJECTION_REASONS,
            sla=reports.SLA_WORKING_DAYS)

    @expose("/bulk", methods=("POST",))
    def bulk(self):
        ids = [n for n in map(parse_id, request.form.getlist("ids")) if n is not None]
        op = request.form.get("op")
        moved, refused = [], []
        for app in db.session.scalars(sa.select(Application).where(Application.id.in_(ids))):
            to = {"advance": workflow.NEXT.get(app.stage), "hold": Stage.ON_HOLD,
                  "reject": Stage.REJECTED}.get(op)
            if to is None:
                refused.append(f"#{app.id}: {gettext('no next stage from %(s)s', s=app.stage)}")
                continue
            try:
                with db.session.begin_nested():
                    workflow.transition(db.session, application=app, to=to, user=g.user,
                                        reason=request.form.get("reason") or None,
                                        note=request.form.get("note") or None)
                moved.append(app.id)
            except ValueError as exc:
                refused.append(f"#{app.id}: {refusal(exc)}")
        audit.record(db.session, action=f"bulk_{op}", entity="vetting_application",
                     changes={"moved": moved, "refused": [r.split(":")[0] for r in refused]})
        db.session.commit()
        if moved:
            flash(gettext("%(n)d applications moved.", n=len(moved)), "success")
        for line in refused:
            flash(line, "error")
        return redirect(safe_referrer() or url_for(".index"))

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        if request.method == "POST":
            f = request.form
            try:
                app = service.new_applicant(db.session, name=f.get("name", ""),
                                            email=f.get("email"), phone=f.get("phone"),
                                            skills=f.getlist("skills"), zone=f.get("zone"),
                                            language=f.get("language") or "es")
            except ValueError as exc:
                db.session.rollback()
                flash(refusal(exc), "error")
            else:
                db.session.commit()
                flash(gettext("Application opened."), "success")
                return redirect(url_for(".application", app_id=app.id))
        return self.render("admin/vetting_new.html", skills=SKILLS, form=request.form)

    @expose("/application/<int:app_id>")
    def application(self, app_id: int):
        app = self._app(app_id)
        pro = app.professional
        today = date.today()
        history = audit.history(db.session, "vetting_application", app.id)
        staff = db.session.scalars(sa.select(StaffUser).where(
            StaffUser.active.is_(True), StaffUser.roles.like("%vetting%"))).all()
        return self.render(
            "admin/vetting_application.html", app=app, pro=pro, history=history,
            docs=documents.documents_of(db.session, pro.id), doc_types=documents.DOC_TYPES,
            required=documents.required_types(pro.skill_list),
            missing=documents.missing_required(db.session, professional=pro, on=today),
            is_valid=lambda d: documents.is_valid(d, today), today=today,
            allowed=(allowed := sorted(workflow.TRANSITIONS[app.stage], key=list(Stage).index)),
            # A move the reader cannot make yet is shown disabled with the reason (#18).
            blocked={to: "; ".join(refusal(r) for r in workflow.why_not(
                db.session, application=app, to=to, user=g.user)) for to in allowed},
            next_stage=workflow.NEXT.get(app.stage), reasons=workflow.REJECTION_REASONS,
            check_kinds=list(CheckKind), check_statuses=list(CheckStatus),
            check=lambda k: checks.get_check(app, k), staff=staff,
            criteria=service.SCORE_CRITERIA, min_refs=checks.MIN_REFERENCES,
            others=service_older(app))

    @expose("/application/<int:app_id>/transition", methods=("POST",))
    def transition(self, app_id: int):
        app = self._app(app_id)
        to = request.form.get("to", "")
        commit_or_flash(lambda: workflow.transition(
            db.session, application=app, to=to, user=g.user, reason=request.form.get("reason"),
            note=request.form.get("note") or None), lambda moved: _moved(moved))
        return redirect(url_for(".application", app_id=app_id))

    @expose("/application/<int:app_id>/document", methods=("POST",))
    def upload(self, app_id: int):
        app = self._app(app_id)
        limit = min(current_app.config.get("MAX_CONTENT_LENGTH") or documents.DEFAULT_MAX_BYTES,
                    current_app.config.get("VETTING_MAX_FILE_BYTES", documents.DEFAULT_MAX_BYTES))
        try:
            file = request.files.get("file")
        except RequestEntityTooLarge:
            flash(gettext("file: the upload is larger than the limit of %(mb)d MB",
                          mb=limit // 1048576), "error")
            return redirect(url_for(".application", app_id=app_id))

        def run():
            if file is None or not file.filename:
                raise ValueError("file: choose a file to upload")
            service.add_document(
                db.session, professional=app.professional, doc_type=request.form.get("doc_type"),
                data=file.read(limit + 1), filename=file.filename,
                upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=limit,
                number=request.form.get("number") or None,
                issued_on=form_date(request.form.get("issued_on"), "issued_on"),
                expires_on=form_date(request.form.get("expires_on"), "expires_on"), user=g.user)

        commit_or_flash(run, gettext("Document uploaded; it waits for review."))
        return redirect(url_for(".application", app_id=app_id))

    @expose("/document/<int:doc_id>/review", methods=("POST",))
    def review(self, doc_id: int):
        doc = db.session.get(Document, doc_id) or abort(404)
        accept = request.form.get("decision") == "accept"
        commit_or_flash(lambda: service.review_document(
            db.session, document=doc, accept=accept, user=g.user,
            reason=request.form.get("reason")),
            gettext("Document accepted.") if accept else gettext("Document rejected."))
        return redirect(safe_referrer() or url_for(".index"))

    @expose("/document/<int:doc_id>/download")
    def download(self, doc_id: int):
        doc = db.session.get(Document, doc_id) or abort(404)
        try:
            path = documents.stored_path(current_app.config["UPLOAD_DIR"], doc.stored_name)
        except ValueError:
            abort(404)
        if not path.is_file():
            abort(404)
        audit.record(db.session, action="download", entity="vetting_document", entity_id=doc.id,
                     note=f"{doc.doc_type} of professional #{doc.professional_id}")
        db.session.commit()
        name = f"{doc.doc_type}-{doc.professional_id}-{doc.id}.{path.suffix.lstrip('.')}"
        resp = send_file(path, mimetype=doc.content_type, as_attachment=True, download_name=name,
                         max_age=0)
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return resp

    @expose("/application/<int:app_id>/check", methods=("POST",))
    def check(self, app_id: int):
        app = self._app(app_id)
        f = request.form
        commit_or_flash(lambda: checks.record_check(
            db.session, application=app, kind=f.get("kind"), status=f.get("status"), user=g.user,
            external_ref=f.get("external_ref") or None, notes=f.get("notes") or None),
            gettext("Check recorded."))
        return redirect(url_for(".application", app_id=app_id))

    @expose("/application/<int:app_id>/reference", methods=("POST",))
    def reference(self, app_id: int):
        app = self._app(app_id)
        f = request.form
        commit_or_flash(lambda: checks.add_reference(
            db.session, application=app, name=f.get("name", ""), contact=f.get("contact", ""),
            relationship_to=f.get("relationship_to") or None, contacted=bool(f.get("contacted")),
            outcome=f.get("outcome") or None, notes=f.get("notes") or None, user=g.user),
            gettext("Reference recorded."))
        return redirect(url_for(".application", app_id=app_id))

    @expose("/application/<int:app_id>/interview", methods=("POST",))
    def interview(self, app_id: int):
        app = self._app(app_id)
        f = request.form

        def run():
            try:
                at = parse_moment(f.get("scheduled_at", ""))
            except ValueError:
                raise ValueError(bad_moment_message(gettext("Interview"),
                                                    f.get("scheduled_at", ""))) from None
            who = db.session.get(StaffUser, int(f["interviewer_id"])) \
                if f.get("interviewer_id", "").isdigit() else None
            service.schedule_interview(db.session, application=app, at=at, interviewer=who)

        commit_or_flash(run, gettext("Interview scheduled."))
        return redirect(url_for(".application", app_id=app_id))

    @expose("/interview/<int:interview_id>/record", methods=("POST",))
    def interview_result(self, interview_id: int):
        interview = db.session.get(Interview, interview_id) or abort(404)
        f = request.form
        scores = {k: int(f[k]) for k in service.SCORE_CRITERIA if f.get(k, "").isdigit()}
        commit_or_flash(lambda: service.record_interview(
            db.session, interview=interview, outcome=f.get("outcome", ""), scores=scores,
            notes=f.get("notes") or None, user=g.user), gettext("Interview recorded."))
        return redirect(url_for(".application", app_id=interview.application_id))

    @expose("/funnel")
    def funnel(self):
        today = date.today()
        return self.render("admin/vetting_funnel.html",
                           funnel=reports.funnel(db.session, today=today),
                           gaps=reports.coverage_gaps(db.session, today=today))


def _moved(app: Application) -> str:
    """Say what a move did, in the reader's words."""
    if app.stage == Stage.APPROVED:
        return gettext("Application approved: %(name)s is now an approved professional.",
                       name=app.professional.name)
    if app.stage == Stage.REJECTED:
        return gettext("Application rejected.")
    if app.stage == Stage.ON_HOLD:
        return gettext("Application put on hold.")
    return gettext("Application moved to the stage «%(s)s».",
                   s=in_context("stage", app.stage.value))


def service_older(app: Application) -> list[Application]:
    """Return the professional's other applications (earlier decisions, re-reviews)."""
    return [a for a in db.session.scalars(sa.select(Application).where(
        Application.professional_id == app.professional_id, Application.id != app.id)
        .order_by(Application.id.desc()))]


def professional_link(pro: Professional) -> str:
    return url_for("professional.details_view", id=pro.id)
