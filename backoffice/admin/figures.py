"""Operations figures: service quality, agents, bookings and recurring issues, week by week.

Everything on the page is read from the summary rows the jobs keep (figures.service.refresh);
only the drill-down into one bar's cases reads the cases themselves.
"""

import html
from datetime import date, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, current_app, flash, request, url_for
from flask_admin import expose
from flask_babel import get_locale, gettext, pgettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from backoffice import audit
from backoffice.admin.base import SecureView
from backoffice.admin.cases_common import case_url, code_label, when
from backoffice.admin.dates import bad_day_message
from backoffice.admin.urls import parse_id
from backoffice.days import parse_day
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
        try:  # typed dd/mm/yyyy as the page shows it, or ISO (the export links)
            until = parse_day(args["until"])
        except ValueError:
            flash(bad_day_message(gettext("Until"), args["until"]), "error")
        else:
            if not date(2000, 1, 1) <= until <= date(2100, 1, 1):
                flash(bad_day_message(gettext("Until"), args["until"]), "error")
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
        self.staff, self.pros, self.categories = {}, {}, {}
        c, none = CaseCategory.__table__.c, sa.null().cast(sa.String)
        # One round trip for the three.
        for dim, id_, code, name, name_es in db.session.execute(sa.union_all(
                sa.select(sa.literal("agent"), StaffUser.id, none, StaffUser.name, none)
                .where(StaffUser.id.in_(staff)),
                sa.select(sa.literal("professional"), Professional.id, none, Professional.name,
                          none)
                .where(Professional.id.in_(pros)),
                sa.select(sa.literal("category"), c.id, c.code, c.name_en, c.name_es))).all():
            if dim == "category":
                self.categories[code] = (id_, name if lang == "en" else name_es)
            else:
                (self.staff if dim == "agent" else self.pros)[id_] = name

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
        source = report.StoredSource(db.session)
        data = report.build(source, weeks=weeks)
        names = Names(data)
        lang = _lang()
        drill = DrillUrls()
        f = _formatters(lang)
        # A stored period carries the moment of the refresh that wrote it (that of the latest).
        refreshed = source.refreshed_at or service.last_refreshed(db.session)
        return self.render(
            "admin/figures.html", data=data, names=names, weeks=weeks,
            weeks_n=len(weeks), week_choices=WEEK_CHOICES, until=weeks[-1] + timedelta(days=6),
            charts=_charts(data, lang, names, drill, f), f=f, age_names=AGE_NAMES,
            tables=_tables(data, f, names), refreshed=refreshed, when=when, drill=drill,
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


class DrillUrls:
    """The drill-down URL of a bar (a year's charts have hundreds): the route built once, each
    key quoted once; a week's part and a key's part joined."""

    def __init__(self) -> None:
        self.base, self._keys = url_for("figures.cases"), {}

    def week_part(self, week: date) -> str:
        return f"{self.base}?week={week.isoformat()}"

    def key_part(self, dim: str, key: str) -> str:
        part = self._keys.get((dim, key))
        if part is None:
            part = self._keys[(dim, key)] = "&" + urlencode({"dim": dim, "key": key})
        return part

    def __call__(self, week: date, dim: str, key: str) -> str:
        return self.week_part(week) + self.key_part(dim, key)


def _rows(rows: list[list[str]], end: str = "") -> Markup:
    """Return table rows of cells as HTML, each cell escaped (by html.escape: a third of
    markupsafe's cost per call, and the same text where there is no quote)."""
    e = html.escape
    return Markup("".join(["<tr><td>" + "</td><td>".join(map(e, row)) + "</td></tr>" + end
                           for row in rows]))


def _tables(data: dict, f: dict, names: Names) -> dict:
    """Return the page's long tables as HTML rows, each cell as the reader reads it.

    Written here rather than cell by cell in the template: a year's tables have some two
    thousand cells, and each cell a template writes costs many times what it costs here."""
    pct, num, dur = f["pct"], f["num"], f["dur"]
    cells = {
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
        "professionals": {part: [(r["key"], names("professional", r["key"]), pct(r["rate"]))
                                 for r in rows] for part, rows in data["professionals"].items()},
        "bookings": [[f["week"](w["week"]), num(w["asked"]), num(w["covered"]), pct(w["fill"]),
                      f["eur"](w["booked_cents"]), dur(w["time_to_fill"]["median"]),
                      dur(w["time_to_fill"]["p90"]), pct(w["cancel"]), pct(w["no_show"]),
                      pct(w["utilisation"])] for w in data["weekly"]],
        "skills": [[names("skill", s["key"]), num(s["asked"]), pct(s["fill"]),
                    dur(s["time_to_fill"]["median"]), pct(s["cancel"]), pct(s["no_show"])]
                   for s in data["skills"]],
    }
    e, pro_url = html.escape, _professional_url()
    return {
        "weekly": _rows(cells["weekly"]), "bookings": _rows(cells["bookings"]),
        "skills": _rows(cells["skills"]), "agents": _rows(cells["agents"], "\n"),
        "categories": Markup("".join([
            (f'<tr><td><a href="{e(q)}">{e(name)}</a></td>' if q else f"<tr><td>{e(name)}</td>")
            + "".join([f"<td>{e(cell)}</td>" for cell in row]) + "</tr>\n"
            for q, name, row in cells["categories"]])),
        "professionals": {part: Markup("".join([
            f'<tr><td><a href="{e(pro_url(key))}">{e(name)}</a></td><td>{e(rate)}</td></tr>'
            for key, name, rate in rows])) for part, rows in cells["professionals"].items()},
    }


def _professional_url():
    """Return a function giving a professional's page from their key (the route built once)."""
    base = url_for("professional.details_view")
    return lambda key: f"{base}?{urlencode({'id': key})}"


def _queue_url(names: Names, dim: str, key: str) -> str | None:
    """Return the case queue filtered to a category or a tag (all states, all dates)."""
    if dim == "tag":
        return url_for("cases.index", tab="all", tag=key)
    category_id = names.categories.get(key, (None, None))[0]
    return url_for("cases.index", tab="all", category=category_id) if category_id else None


def _remembered(fn):
    """Return fn keeping its text of each value: the tables and the charts show the same
    weekly shares and durations (a year: hundreds), each then formatted once."""
    seen: dict = {}

    def text(value) -> str:
        found = seen.get(value)
        if found is None:
            found = seen[value] = fn(value)
        return found

    return text


def _formatters(lang: str) -> dict:
    return {"pct": _remembered(lambda v: formats.percent(v, lang=lang)),
            "num": lambda v, d=0: formats.number(v, d, lang=lang),
            "eur": lambda v: formats.euros(v, lang=lang),
            "dur": _remembered(formats.duration), "sec": formats.seconds,
            "week": formats.week}


def _charts(data: dict, lang: str, names: Names, drill, f: dict) -> dict:
    weekly, labels = data["weekly"], [formats.week(w) for w in data["weeks"]]
    pct = lambda v: formats.percent(v, lang=lang, decimals=0)  # noqa: E731
    share = f["pct"]  # as the tables write them (the same texts, formatted once)
    hours = lambda v: formats.number(v / 60, 1, lang=lang) + " h"  # noqa: E731
    dur = f["dur"]
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
    ages = list(rollup.AGE_BUCKETS)
    out["backlog"] = charts.stacked(
        labels, [AGE_NAMES[str(a)] for a in ages],
        [[w["backlog_ages"][a] for a in ages] for w in weekly], text=num, tick_text=num)
    for dim in ("category", "tag"):
        items = data["issues"][dim]
        keys = [i["key"] for i in items]
        # Each bar's address, escaped: its week's part and its key's part, each escaped once.
        # (As plain text: Markup's + would escape each joined part again.)
        by_week = [str(escape(drill.week_part(week))) for week in data["weeks"]]
        by_key = [str(escape(drill.key_part(dim, k))) for k in keys]

        def link(j, n, by_week=by_week, by_key=by_key):
            return by_week[j] + by_key[n]

        out[f"issues_{dim}"] = charts.stacked(
            labels, [names(dim, k) for k in keys],
            [[i["weeks"][j][1] for i in items] for j in range(len(data["weeks"]))],
            text=num, link=link, tick_text=num)
    return out


def register(admin) -> None:
    """Mount the figures page."""
    admin.add_view(FiguresView(name=_l("Operations figures"), endpoint="figures",
                               url="/admin/figures"))
