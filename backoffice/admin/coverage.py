"""Coverage: the 14-day board, plan runs to review and publish, what-if, manual bookings."""

from datetime import date, datetime

import sqlalchemy as sa
from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from assignment import runs, service
from assignment.models import PlanRun
from assignment.problem import parse_plan
from backoffice import notes
from backoffice.admin.base import SecureView, commit_or_flash
from backoffice.admin.coverage_board import board_figures, chart
from backoffice.admin.dates import bad_day_message, bad_moment_message
from backoffice.admin.plan_run_progress import run_progress, when
from backoffice.days import parse_day, parse_moment
from backoffice.db import db
from backoffice.geo import ZONES
from backoffice.models import Professional, ProfessionalStatus, ServiceRequest
from backoffice.services.professionals import shifts_on

RULES = {
    "skill": _l("nobody has the skill"),
    "excluded_client": _l("does not work for this client"),
    "required_professional": _l("another professional is required"),
    "no_shift": _l("no shift holds it"),
    "weekly_hours": _l("weekly hours used up"),
    "busy": _l("busy"),
    "unavailable": _l("suspended or offboarded: the repair job moves this booking"),
}


def _when(value: str | None) -> datetime | None:
    """Return the day and time typed (dd/mm/yyyy hh:mm, or ISO); None when left empty; a
    refusal naming the field when it is no day and time."""
    if not (value or "").strip():
        return None
    try:
        return parse_moment(value)
    except ValueError:
        raise ValueError(bad_moment_message(gettext("Start"), value)) from None


def _day(value: str | None, default: date | None, label) -> date | None:
    """Return the day typed (dd/mm/yyyy, or ISO); a day that is none is said, naming the field,
    and the default used."""
    try:
        return parse_day(value) if value else default
    except ValueError:
        flash(bad_day_message(str(label), value), "error")
        return default


class CoverageView(SecureView):
    allowed_roles = frozenset({"ops_agent"})

    def _today(self) -> date:
        return date.today()

    def _write_or_403(self) -> None:
        if not self.can_write():
            abort(403)

    @expose("/")
    def index(self):
        today = self._today()
        figures = board_figures(db.session, today=today)
        runs = db.session.scalars(sa.select(PlanRun).order_by(PlanRun.id.desc()).limit(8)).all()
        return self.render("admin/coverage_board.html", f=figures, today=today, runs=runs,
                           rules=RULES, chart=chart(db.session, today=today))

    @expose("/run", methods=("POST",))
    def run(self):
        """Queue a plan run (or join the one running for the same days) and show it at once."""
        self._write_or_403()
        days = min(max(request.form.get("days", 14, type=int), 1), 28)
        limit = float(current_app.config.get("COVERAGE_RUN_TIME_LIMIT_S", 120.0))
        queued = {}

        def ask():
            queued["run"], joined = runs.request_run(
                db.session, start=self._today(), days=days, time_limit_s=limit,
                config=current_app.config)
            if joined:
                return gettext("Plan #%(id)d for the same days is already being computed: "
                               "you are following it.", id=queued["run"].id)
            return gettext("Plan #%(id)d is queued: a worker computes it for up to %(s)d s. "
                           "You can leave this page.", id=queued["run"].id, s=round(limit))

        if not commit_or_flash(ask, lambda message: message, "info"):
            return redirect(url_for(".index"))
        return redirect(url_for(".run_page", run_id=queued["run"].id))

    @expose("/run/<int:run_id>")
    def run_page(self, run_id: int):
        run = db.session.get(PlanRun, run_id) or abort(404)
        if run.plan is None:  # queued, running, failed: its progress or why it failed
            return self.render("admin/coverage_run_progress.html", run=run,
                               p=run_progress(run), when=when)
        diff = service.compare(db.session, plan=parse_plan(run.plan))
        reasons = {u["request"]: u for u in run.plan["unassigned"]}
        return self.render("admin/coverage_run.html", run=run, diff=diff, reasons=reasons,
                           rules=RULES, humanise=service.humanise, when=when,
                           note=notes.shown(run.note))

    @expose("/run/<int:run_id>/progress")
    def run_progress(self, run_id: int):
        """How far the run got, for its page to poll (JSON)."""
        run = db.session.get(PlanRun, run_id) or abort(404)
        return jsonify(run_progress(run))

    @expose("/run/<int:run_id>/stop", methods=("POST",))
    def stop(self, run_id: int):
        self._write_or_403()
        run = db.session.get(PlanRun, run_id) or abort(404)
        commit_or_flash(lambda: runs.request_stop(db.session, run=run),
                        gettext("Plan #%(id)d stops within a few seconds and keeps the best plan "
                                "found so far.", id=run_id), "info")
        return redirect(url_for(".run_page", run_id=run_id))

    @expose("/run/<int:run_id>/retry", methods=("POST",))
    def retry(self, run_id: int):
        self._write_or_403()
        run = db.session.get(PlanRun, run_id) or abort(404)
        again = {}

        def ask():
            again["run"], _ = runs.retry(db.session, run=run, config=current_app.config)
            return gettext("Plan #%(id)d is queued again as plan #%(new)d.", id=run_id,
                           new=again["run"].id)

        if commit_or_flash(ask, lambda message: message, "info"):
            return redirect(url_for(".run_page", run_id=again["run"].id))
        return redirect(url_for(".run_page", run_id=run_id))

    @expose("/run/<int:run_id>/publish", methods=("POST",))
    def publish(self, run_id: int):
        self._write_or_403()
        run = db.session.get(PlanRun, run_id) or abort(404)
        published = commit_or_flash(
            lambda: service.publish(db.session, run=run, now=datetime.now()),
            lambda diff: gettext("Plan #%(id)d published: %(new)d newly covered, %(moved)d "
                                 "moved, %(unassigned)d unassigned.", id=run_id,
                                 **diff.counts()))
        return redirect(url_for(".index") if published else url_for(".run_page", run_id=run_id))

    @expose("/run/<int:run_id>/discard", methods=("POST",))
    def discard(self, run_id: int):
        self._write_or_403()
        run = db.session.get(PlanRun, run_id) or abort(404)
        commit_or_flash(lambda: service.discard(db.session, run=run),
                        gettext("Plan #%(id)d discarded; no booking changed.", id=run_id), "info")
        return redirect(url_for(".index"))

    @expose("/what-if")
    def what_if(self):
        today = self._today()
        pros = db.session.execute(
            sa.select(Professional.id, Professional.name)
            .where(Professional.status == ProfessionalStatus.APPROVED).order_by(Professional.name)
        ).all()
        args = request.args
        result, pro_id = None, args.get("professional", type=int)
        zone, pct = args.get("zone") or None, args.get("spike", 0, type=int)
        if pro_id or (zone and pct > 0):
            # built in memory from the rows and solved there: nothing is flushed or written
            result = service.what_if(
                db.session, start=today, now=datetime.now(), absent_professional=pro_id,
                absent_from=(first := _day(args.get("from"), today, _l("From"))),
                absent_to=_day(args.get("to"), first, _l("To")),
                spike_zone=zone if zone in ZONES else None, spike_pct=min(max(pct, 0), 300),
                time_limit_s=float(current_app.config.get("WHAT_IF_TIME_LIMIT_S", 5.0)),
            )
        return self.render("admin/coverage_whatif.html", pros=pros, zones=sorted(ZONES),
                           args=args, result=result, today=today)

    @expose("/request/<int:request_id>")
    def booking(self, request_id: int):
        row = db.session.get(ServiceRequest, request_id) or abort(404)
        pros = db.session.scalars(
            sa.select(Professional).where(Professional.status == ProfessionalStatus.APPROVED,
                                          Professional.skills.contains(row.skill))
            .options(selectinload(Professional.shifts), selectinload(Professional.time_off))
            .order_by(Professional.name)).all()
        current = db.session.get(Professional, row.professional_id) if row.professional_id else None
        hours = {p.id: ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in
                                 shifts_on(p, row.service_date)) for p in pros}
        start = row.start_at or datetime.combine(row.service_date, row.window_start)
        return self.render("admin/coverage_request.html", row=row, pros=pros, hours=hours,
                           current=current, start=start)

    @expose("/request/<int:request_id>/<op>", methods=("POST",))
    def booking_change(self, request_id: int, op: str):
        self._write_or_403()
        row = db.session.get(ServiceRequest, request_id) or abort(404)
        form = request.form
        if op == "pin":
            def change():
                pro = db.session.get(Professional, form.get("professional", type=int) or 0)
                start_at = _when(form.get("start_at"))
                if pro is None or start_at is None:
                    raise ValueError(gettext("professional: choose a professional and a start."))
                service.pin(db.session, request=row, professional=pro, start_at=start_at)
                return gettext("Pinned: %(pro)s at %(t)s. Plans will keep it.",
                               pro=pro.name, t=start_at.strftime("%d/%m %H:%M"))
        elif op == "keep":
            def change():
                service.keep(db.session, request=row)
                return gettext("Pinned: plans will keep this booking.")
        elif op == "unassign":
            def change():
                service.unassign(db.session, request=row)
                return gettext("Unassigned: the service is back among those to cover.")
        elif op == "swap":
            def change():
                other = db.session.get(ServiceRequest, form.get("other", type=int) or 0)
                if other is None:
                    raise ValueError(gettext("request: no service with that number."))
                service.swap(db.session, first=row, second=other)
                return gettext("Swapped with #%(id)d; both bookings are pinned.", id=other.id)
        else:
            abort(404)
        commit_or_flash(change, lambda message: message)
        return redirect(url_for(".booking", request_id=request_id))


def home_figures(session, *, today: date) -> dict:
    """Return the coverage of the next 14 days for the home page."""
    cells = service.coverage_cells(session, start=today)
    n, c = sum(x.requests for x in cells), sum(x.covered for x in cells)
    return {"pct": 100.0 * c / n if n else 100.0, "uncovered": n - c}


def register(admin) -> None:
    """Mount the coverage board and its home-page figures."""
    from backoffice.admin.home import HOME_PANELS, HomePanel

    admin.add_view(CoverageView(name=_l("Coverage"), endpoint="coverage", url="/admin/coverage"))
    if not any(p.name == "coverage" for p in HOME_PANELS):
        HOME_PANELS.append(HomePanel("coverage", roles=("ops_agent",), figures=home_figures,
                                     template="admin/coverage_home.html"))
