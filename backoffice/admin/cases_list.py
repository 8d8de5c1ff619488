"""The case queue: tabs, search and filters, saved filter links, bulk changes, export, and a
case opened by hand."""

import io
import itertools

import sqlalchemy as sa
from flask import (
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_admin import expose
from flask_babel import gettext
from markupsafe import Markup, escape

from backoffice import audit
from backoffice.admin import cases_queue as queue
from backoffice.admin.base import refusal
from backoffice.admin.cases_common import case_url, me, now
from backoffice.admin.cases_rows import desk_lists, id_url, options, queue_rows, words
from backoffice.admin.urls import parse_id, query_string
from backoffice.db import db
from backoffice.models import Client, Professional, StaffUser
from backoffice.redirects import safe_referrer
from cases import export, service, workflow
from cases.models import (
    ArticleKind,
    Case,
    CaseCategory,
    CaseChannel,
    CasePriority,
    CaseState,
    SavedFilter,
)

BULK_MAX = 500
TABS = (("mine", "My cases"), ("unassigned", "Unassigned"), ("team", "My team"),
        ("due", "Due soon"), ("all", "All"))
_SAVED = SavedFilter.__table__
HAND_CHANNELS = (CaseChannel.PANEL, CaseChannel.PHONE, CaseChannel.ESCALATION)


class QueueMixin:
    @expose("/")
    def index(self):
        query = queue.parse(request.args)
        at = now()
        rows, more, count = queue.page(db.session, g.user, query)
        saved = db.session.execute(sa.select(_SAVED).where(
            _SAVED.c.user_id == g.user.id).order_by(_SAVED.c.name)).all()
        lists = desk_lists(db.session)
        w = words()
        states, priorities = w.codes["case_state"], w.codes["case_priority"]
        channels = w.codes["case_channel"]
        me_nobody = [("me", w.h["Me"]), ("none", w.h["Nobody"])]
        agents = [(a_id, escape(name)) for a_id, name in lists.agents]
        people = next((n for kind, n in query.notes if kind == "people"), None)
        return self.render(
            "admin/cases_queue.html", query=query, t=w.t, tabs=TABS, saved=saved, more=more,
            rows_html=queue_rows(rows, now=at, categories=lists.categories),
            row_count=len(rows),
            count_text=Markup(escape(w.t["%(n)s cases"])) % {"n": count},
            people_note=None if people is None else
            w.t["Cases of the %(n)d people who match."] % {"n": people},
            delete_filter_url=id_url("cases.delete_filter", filter_id=None),
            state_options=options(((s, states[s]) for s in CaseState), query.state),
            priority_options=options(((p, priorities[p]) for p in CasePriority),
                                     query.priority),
            category_options=options(((c.id, escape(c.name)) for c in lists.categories),
                                     query.category),
            channel_options=options(((c, channels[c]) for c in CaseChannel), query.channel),
            assignee_options=options([*me_nobody, *agents], query.assignee),
            agent_options=options(agents),
            bulk_state_options=options((s, states[s]) for s in CaseState
                                       if s not in (CaseState.MERGED, CaseState.NEW)),
            query_string=query_string)

    @expose("/bulk", methods=("POST",))
    def bulk(self):
        ids = [n for n in map(parse_id, request.form.getlist("ids")) if n is not None][:BULK_MAX]
        op = request.form.get("op", "")
        target = None
        if op == "assign":
            key = request.form.get("assignee", "")
            target = me() if key == "me" else db.session.get(StaffUser, parse_id(key) or 0)
            if target is None:
                flash(gettext("assignee: choose an agent"), "error")
                return redirect(self._back())
        elif op != "state":
            flash(gettext("op: choose what to do with the selected cases"), "error")
            return redirect(self._back())
        to = request.form.get("to", "")
        done, refused = [], []
        cases = db.session.scalars(sa.select(Case).where(
            Case.id.in_(ids), service.visible_filter(g.user)).order_by(Case.id)).all()
        for case in cases:
            try:
                with db.session.begin_nested():  # a refusal leaves this case untouched
                    if op == "assign":
                        service.assign(db.session, case=case, assignee=target, now=now())
                    else:
                        workflow.transition(db.session, case=case, to=to, user=me(),
                                            now=now())
                done.append(case.id)
            except ValueError as exc:
                refused.append(f"{case.number}: {refusal(exc)}")
        audit.record(db.session, action=f"bulk_{op}", entity="case",
                     changes={"ids": done, "refused": len(refused)})
        db.session.commit()
        flash(gettext("%(n)d cases updated.", n=len(done)), "success" if done else "warning")
        for line in refused[:20]:
            flash(line, "error")
        return redirect(self._back())

    def _back(self) -> str:
        return safe_referrer() or url_for(".index")

    @expose("/filters", methods=("POST",))
    def save_filter(self):
        name = " ".join(request.form.get("name", "").split())[:80]
        query = queue.parse(_args_of(request.form.get("query", "")))
        if not name:
            flash(gettext("name: give the filter a name"), "error")
        else:
            db.session.add(SavedFilter(user_id=g.user.id, name=name,
                                       query=query_string(query.args(page=None))[1:]))
            db.session.commit()
            flash(gettext("Filter saved."), "success")
        return redirect(url_for(".index") + query_string(query.args(page=None)))

    @expose("/filters/<int:filter_id>/delete", methods=("POST",))
    def delete_filter(self, filter_id: int):
        row = db.session.get(SavedFilter, filter_id)
        if row is not None and row.user_id == g.user.id:
            db.session.delete(row)
            db.session.commit()
            flash(gettext("Filter deleted."), "success")
        return redirect(url_for(".index"))

    @expose("/export")
    def export(self):
        fmt = request.args.get("format") if request.args.get("format") in ("csv", "json") else "csv"
        query = queue.parse(request.args)
        query.page = 1
        condition = sa.and_(*queue.conditions(db.session, g.user, query))
        # The file leaves the panel with this trace, written before the first byte (the row
        # count is not known until the last).
        audit.record(db.session, action="export", entity="case", changes={"format": fmt},
                     note=query_string(query.args()))
        db.session.commit()

        rows = export.rows(db.session, condition=condition)
        mimetype = "text/csv" if fmt == "csv" else "application/json"
        return Response(stream_with_context(_chunks(rows, fmt)), mimetype=mimetype, headers={
            "Content-Disposition": f"attachment; filename=cases.{fmt}"})

    @expose("/tags")
    def tags(self):
        prefix = (request.args.get("q") or "").replace("\x00", "")[:service.MAX_TAG]
        return jsonify(service.tag_suggestions(db.session, prefix=prefix))

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        form = request.form if request.method == "POST" else request.args
        if request.method == "POST":
            try:
                case = _open_by_hand(form)
            except ValueError as exc:
                db.session.rollback()
                flash(refusal(exc), "error")
            else:
                db.session.commit()
                flash(gettext("Case %(number)s opened.", number=case.number), "success")
                return redirect(case_url(case))
        person = _person(form.get("person"))
        return self.render("admin/cases_new.html", form=form, person=person,
                           categories=[c for c in queue.categories(db.session) if c.active],
                           priorities=list(CasePriority), channels=HAND_CHANNELS)


def _chunks(rows, fmt: str):
    """Yield the export file a batch of cases at a time: the same bytes export.write puts in a
    stream, without holding the file (export.write writes whole files, so each batch is
    written as one and its framing taken off)."""
    rows = iter(rows)
    batches = iter(lambda: list(itertools.islice(rows, export.BATCH)), [])
    if fmt == "csv":  # the header line, then each batch's lines
        header = _written((), fmt)
        yield header
        for batch in batches:
            yield _written(batch, fmt)[len(header):]
        return
    # JSON: "[", each case as "\n{...}" with "," between, then "\n]\n" ("]\n" when none).
    yield "["
    n = 0
    for batch in batches:
        yield ("," if n else "") + _written(batch, fmt)[1:-3]
        n += len(batch)
    yield "\n]\n" if n else "]\n"


def _written(rows, fmt: str) -> str:
    stream = io.StringIO()
    export.write(rows, fmt, stream)
    return stream.getvalue()


def _args_of(text: str) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(text.lstrip("?")).items()}


def _person(key: str | None):
    """Return the client or professional a form names as "client:12" / "professional:7"."""
    kind, _, number = (key or "").partition(":")
    model = {"client": Client, "professional": Professional}.get(kind)
    number = parse_id(number)
    return db.session.get(model, number) if model and number else None


def _open_by_hand(form) -> Case:
    """Open the case a hand form describes (panel, phone or call-center escalation)."""
    channel = form.get("channel", "")
    if channel not in {c.value for c in HAND_CHANNELS}:
        raise ValueError("channel: choose panel, phone or call-center escalation")
    category = None
    if form.get("category_id"):
        category = db.session.get(CaseCategory, parse_id(form.get("category_id")) or 0)
        if category is None:
            raise ValueError("category: choose a category from the list")
    requester = _person(form.get("person"))
    if requester is None:
        requester = service.requester_for(db.session, email=form.get("email") or None,
                                          phone=form.get("phone") or None,
                                          name=form.get("name") or None)
    case = service.open_case(db.session, subject=form.get("subject", ""), channel=channel,
                             requester=requester, priority=form.get("priority") or "normal",
                             category=category, level1_agent=form.get("level1_agent") or None,
                             assignee=me() if form.get("assign_me") else None, now=now(),
                             cap=current_app.config["CASES_MAX_OPEN_PER_AGENT"])
    text = (form.get("summary") or "").strip()
    if text:
        kind = ArticleKind.SUMMARY if channel == CaseChannel.ESCALATION else ArticleKind.NOTE
        service.add_article(db.session, case=case, kind=kind, body=text, public=False,
                            user=me(), now=now())
    return case
