"""Operations figures: service quality, agents, bookings and recurring issues, week by week.

Everything on the page is read from the summary rows the jobs keep (figures.service.refresh);
only the drill-down into one bar's cases reads the cases themselves.
"""

from datetime import date, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, current_app, flash, request, url_for
from flask_admin import expose
from flask_babel import get_locale, gettext, pgettext
from flask_babel import lazy_gettext as _l

from backoffice import audit
from backoffice.admin.base import SecureView
from backoffice.admin.cases_common import case_url, code_label, when
from backoffice.admin.urls import parse_id
from backoffice.db import db, utcnow
from backoffice.models import Professional, StaffUser
from cases.models import Case, CaseCategory, CaseTag
from figures import charts, export, formats, report, rollup, service

ROLES = frozenset({"ops_agent"})
WEEK_CHOICES = report.PERIODS
DEFAULT_WEEKS = 12
DRILL_LIMIT = 200
CSAT_GOAL = 0.9  # level-1 and level-2 agents are measured on 90% or more


def _lang() -> str:
    return "en" if str(get_locale() or "es").startswith("en") else "es"


def _tz() -> str:
    return current_app.config.get("BABEL_DEFAULT_TIMEZONE", rollup.DEFAULT_TZ)


def _period(args) -> list[date]:
    """Return the Mondays the page shows; a bad value is said and replaced by the default."""
    weeks = parse_id(args.get("weeks")) if args.get("weeks") else DEFAULT_WEEKS
    if weeks not in WEEK_CHOICES:
        flash(gettext("weeks: choose 4, 8, 12, 26 or 52 weeks"), "error")
        weeks = DEFAULT_WEEKS
    until = rollup.local_day(utcnow(), _tz())
    if args.get("until"):
        try:
            until = date.fromisoformat(args["until"])
        except ValueError:
            flash(gettext("until: write a date as yyyy-mm-dd"), "error")
        else:
            if not date(2000, 1, 1) <= until <= date(2100, 1, 1):
                flash(gettext("until: write a date as yyyy-mm-dd"), "error")
                until = rollup.local_day(utcnow(), _tz())
    last = rollup.monday(until)
    return [last - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


class Names:
    """Names of the keys a report shows, read once for the keys it holds."""

    def __init__(self, data: dict) -> None:
        lang = _lang()
        staff = {int(a["key"]) for a in data["agents"] if a["key"].isdigit()}
        pros = {int(r["key"]) for rows in data["professionals"].values() for r in rows
                if r["key"].isdigit()}
        self.staff, self.pros = {}, {}
        if staff or pros:  # one round trip for both
            for dim, id_, name in db.session.execute(sa.union_all(
                    sa.select(sa.literal("agent"), StaffUser.id, StaffUser.name)
                    .where(StaffUser.id.in_(staff)),
                    sa.select(sa.literal("professional"), Professional.id, Professional.name)
                    .where(Professional.id.in_(pros)))):
                (self.staff if dim == "agent" else self.pros)[id_] = name
        c = CaseCategory.__table__.c
        self.categories = {code: (id_, en if lang == "en" else es)
                           for id_, code, en, es in db.session.execute(
                               sa.select(c.id, c.code, c.name_en, c.name_es))}

    def __call__(self, dim: str, key: str) -> str:
        if dim == "agent":
            return self.staff.get(parse_id(key) or 0, f"#{key}")
        if dim == "professional":
            return self.pros.get(parse_id(key) or 0, f"#{key}")
        if dim == "category":
            if key == rollup.NO_CATEGORY:
                return gettext("No category")
            return self.categories.get(key, (None, key))[1]
        if dim == "skill":
            return gettext(key)
        if dim == "age":
            return AGE_NAMES.get(key, key)
        if dim == "subject":
            return gettext("Cases") if key == "case" else gettext("Services")
        return key


AGE_NAMES = {"0": "< 1 d", "1": "1–3 d", "3": "3–7 d", "7": "7–14 d", "14": "14–30 d",
             "30": "> 30 d"}


class FiguresView(SecureView):
    allowed_roles = ROLES

    @expose("/")
    def index(self):
        weeks = _period(request.args)
        data = report.build(report.StoredSource(db.session), weeks=weeks)
        names = Names(data)
        lang = _lang()
        drill = _drill_urls()
        f = _formatters(lang)
        return self.render(
            "admin/figures.html", data=data, names=names, weeks=weeks,
            weeks_n=len(weeks), week_choices=WEEK_CHOICES, until=weeks[-1] + timedelta(days=6),
            charts=_charts(data, lang, names, drill), f=f, age_names=AGE_NAMES,
            tables=_tables(data, f, names),
            refreshed=service.last_refreshed(db.session), when=when, drill=drill,
            queue_url=lambda dim, key: _queue_url(names, dim, key))

    @expose("/export.csv")
    def export(self):
        weeks = _period(request.args)
        fmt = request.args.get("format") if request.args.get("format") in export.FORMATS \
            else "es"
        data = report.build(report.StoredSource(db.session), weeks=weeks)
        text = export.write(data, fmt, name=Names(data), gettext=gettext, pgettext=pgettext)
        audit.record(db.session, action="export", entity="figures",
                     changes={"format": fmt, "from": weeks[0].isoformat(),
                              "weeks": len(weeks)})
        db.session.commit()
        name = f"figures-{weeks[0]:%Y%m%d}-{weeks[-1] + timedelta(days=6):%Y%m%d}"
        suffix = "" if fmt == "es" else "-machine"
        return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename={name}{suffix}.csv"})

    @expose("/cases")
    def cases(self):
        """List the cases behind one bar: opened in a week, of a category or with a tag."""
        try:
            week = rollup.monday(date.fromisoformat(request.args.get("week", "")))
        except ValueError:
            flash(gettext("week: write a date as yyyy-mm-dd"), "error")
            week = rollup.monday(rollup.local_day(utcnow(), _tz()))
        dim = request.args.get("dim") if request.args.get("dim") in ("category", "tag") \
            else "category"
        key = (request.args.get("key") or "")[:60].replace("\x00", "")
        span = rollup.Weeks([week], _tz())
        c = Case.__table__.c
        where = [c.created_at >= span.start, c.created_at < span.end]
        if dim == "tag":
            where.append(c.id.in_(sa.select(CaseTag.case_id).where(CaseTag.name == key)))
        elif key == rollup.NO_CATEGORY:
            where.append(c.category_id.is_(None))
        else:
            where.append(c.category_id.in_(sa.select(CaseCategory.id)
                                           .where(CaseCategory.code == key)))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Case.__table__)
                                  .where(*where))
        rows = db.session.execute(
            sa.select(c.id, c.subject, c.state, c.created_at).where(*where)
            .order_by(c.id).limit(DRILL_LIMIT)).all()
        names = Names({"agents": [], "professionals": {}})
        return self.render("admin/figures_cases.html", rows=rows, total=total, week=week,
                           dim=dim, key=key, shown=names(dim, key), limit=DRILL_LIMIT,
                           case_url=case_url, queue=_queue_url(names, dim, key),
                           state_name=lambda s: code_label("case_state", s),
                           local=lambda m: rollup.local_day(m, _tz()))


def _drill_urls():
    """Return a function giving the drill-down URL of a bar (a year's charts have hundreds:
    the route is built once, each key quoted once)."""
    base, quoted = url_for("figures.cases"), {}

    def url(week: date, dim: str, key: str) -> str:
        rest = quoted.get((dim, key))
        if rest is None:
            rest = quoted[(dim, key)] = urlencode({"dim": dim, "key": key})
        return f"{base}?week={week.isoformat()}&{rest}"

    return url


def _tables(data: dict, f: dict, names: Names) -> dict:
    """Return the cells of the page's long tables as the reader reads them.

    Formatted here rather than cell by cell in the template: a year's tables have some two
    thousand cells, and each call from a template costs many times a call from Python."""
    pct, num, dur = f["pct"], f["num"], f["dur"]
    return {
        "weekly": [[f["week"](w["week"]), pct(w["csat"]), num(w["csat_n"]),
                    dur(w["first_response"]["median"]), dur(w["first_response"]["p90"]),
                    dur(w["resolution"]["median"]), dur(w["resolution"]["p90"]), pct(w["sla"]),
                    num(w["backlog"]), num(w["cases"])] for w in data["weekly"]],
        "agents": [[names("agent", a["key"]), pct(a["csat"]), num(a["csat_n"]),
                    dur(a["first_response"]["median"]), dur(a["resolution"]["median"]),
                    pct(a["sla"]), num(a["calls"]["n"]), dur(a["calls"]["seconds"] / 60),
                    f["sec"](a["calls"]["mean"]), num(a["case_work"]["n"]),
                    dur(a["case_work"]["median"]), dur(a["case_work"]["p90"])]
                   for a in data["agents"]],
        "categories": [(_queue_url(names, "category", c["key"]), names("category", c["key"]),
                        [num(c["cases"]), pct(c["csat"]), num(c["csat_n"]),
                         dur(c["first_response"]["median"]), dur(c["resolution"]["median"]),
                         pct(c["sla"])]) for c in data["categories"]],
        "bookings": [[f["week"](w["week"]), num(w["asked"]), num(w["covered"]), pct(w["fill"]),
                      f["eur"](w["booked_cents"]), dur(w["time_to_fill"]["median"]),
                      dur(w["time_to_fill"]["p90"]), pct(w["cancel"]), pct(w["no_show"]),
                      pct(w["utilisation"])] for w in data["weekly"]],
        "skills": [[names("skill", s["key"]), num(s["asked"]), pct(s["fill"]),
                    dur(s["time_to_fill"]["median"]), pct(s["cancel"]), pct(s["no_show"])]
                   for s in data["skills"]],
    }


def _queue_url(names: Names, dim: str, key: str) -> str | None:
    """Return the case queue filtered to a category or a tag (all states, all dates)."""
    if dim == "tag":
        return url_for("cases.index", tab="all", tag=key)
    category_id = names.categories.get(key, (None, None))[0]
    return url_for("cases.index", tab="all", category=category_id) if category_id else None


def _formatters(lang: str) -> dict:
    return {"pct": lambda v: formats.percent(v, lang=lang),
            "num": lambda v, d=0: formats.number(v, d, lang=lang),
            "eur": lambda v: formats.euros(v, lang=lang),
            "dur": formats.duration, "sec": formats.seconds, "week": formats.week}


def _charts(data: dict, lang: str, names: Names, drill) -> dict:
    weekly, labels = data["weekly"], [formats.week(w) for w in data["weeks"]]
    pct = lambda v: formats.percent(v, lang=lang, decimals=0)  # noqa: E731
    share = lambda v: formats.percent(v, lang=lang)  # noqa: E731
    hours = lambda v: formats.number(v / 60, 1, lang=lang) + " h"  # noqa: E731
    dur = lambda v: formats.duration(v)  # noqa: E731
    out = {
        "quality": charts.lines(labels, [
            (gettext("CSAT"), [w["csat"] for w in weekly], share),
            (gettext("SLA met"), [w["sla"] for w in weekly], share)],
            top=1.0, tick_text=pct, target=(CSAT_GOAL, gettext("CSAT goal 90%"))),
        "times": charts.lines(labels, [
            (gettext("First response, median"),
             [w["first_response"]["median"] for w in weekly], dur),
            (gettext("First response, 90th percentile"),
             [w["first_response"]["p90"] for w in weekly], dur),
            (gettext("Resolution, median"), [w["resolution"]["median"] for w in weekly], dur)],
            tick_text=hours),
        "bookings": charts.lines(labels, [
            (gettext("Fill rate"), [w["fill"] for w in weekly], share),
            (gettext("Utilisation"), [w["utilisation"] for w in weekly], share),
            (gettext("Cancellation rate"), [w["cancel"] for w in weekly], share),
            (gettext("No-show rate"), [w["no_show"] for w in weekly], share)],
            top=1.0, tick_text=pct),
    }
    num = lambda v: formats.number(v, 0, lang=lang)  # noqa: E731
    ages = [str(a) for a in rollup.AGE_BUCKETS]
    out["backlog"] = charts.stacked(
        labels, [[(AGE_NAMES[a], w["backlog_ages"][int(a)], num(w["backlog_ages"][int(a)]),
                   None) for a in ages] for w in weekly], [AGE_NAMES[a] for a in ages],
        tick_text=num)
    for dim in ("category", "tag"):
        items = data["issues"][dim]
        shown = [names(dim, i["key"]) for i in items]
        stacks = [[(shown[n], i["weeks"][j][1], num(i["weeks"][j][1]),
                    drill(week, dim, i["key"])) for n, i in enumerate(items)]
                  for j, week in enumerate(data["weeks"])]
        out[f"issues_{dim}"] = charts.stacked(labels, stacks, shown, tick_text=num)
    return out


def register(admin) -> None:
    """Mount the figures page."""
    admin.add_view(FiguresView(name=_l("Operations figures"), endpoint="figures",
                               url="/admin/figures"))
