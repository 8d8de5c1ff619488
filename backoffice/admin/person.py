"""What the client's and the professional's pages share: the timeline as the reader reads it,
money and local times, and the quick actions (log a call, write a note) posted from the page.

The page's long parts (the timeline's rows, a client's bookings) are drawn here in one Python
pass, with their words translated once per language per process (Words) and their links made
from a format string built once (page_url): drawn by Jinja, a gettext and a url_for per cell,
they cost more than every query of the page together (bench/person.py).
"""

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.helpers import get_redirect_target
from flask_babel import format_currency, get_locale, get_timezone, gettext, lazy_gettext
from markupsafe import Markup, escape

from backoffice import timeline
from backoffice.admin.base import HIDDEN_CHANGES, commit_or_flash, render_changes
from backoffice.admin.urls import endpoint_url, parse_id
from backoffice.db import db
from backoffice.i18n import in_context
from backoffice.optional import optional_module
from backoffice.services import interactions

KIND_LABELS = {"call": lazy_gettext("Calls"), "note": lazy_gettext("Notes"),
               "booking": lazy_gettext("Bookings"), "mail": lazy_gettext("Mails"),
               "case": lazy_gettext("Cases"), "complaint": lazy_gettext("Complaints"),
               "survey": lazy_gettext("Surveys"), "invoice": lazy_gettext("Invoices"),
               "change": lazy_gettext("Changes"), "vetting": lazy_gettext("Vetting")}
# Columns kept for the machine: never on a person's page, not even in their history.
INTERNAL_FIELDS = frozenset({"id", "lat", "lon", "version", "stripe_customer_id",
                             "request_count", "merged_into_id", "phone_e164", "client_id",
                             "series_id", "payment_method_id", "price_cents"})
BOOKING_FIELDS = frozenset({"service_date", "window_start", "window_end", "skill", "status",
                            "cancellation_reason", "start_at", "address", "duration_min"})
DIRECTION_LABELS = {"in": lazy_gettext("Incoming"), "out": lazy_gettext("Outgoing")}
_WORDS_MAX = 20_000  # per table: stored texts (a reason, a value) are worded too


class _Translated(dict):
    """Words in one language, each worded on first use and kept for the process."""

    def __init__(self, translate):
        super().__init__()
        self._translate = translate

    def __missing__(self, key):
        if len(self) >= _WORDS_MAX:
            self.clear()
        value = self[key] = self._translate(key)
        return value


def _code_text(context: str):
    return lambda code: in_context(context, code)


def _verb(action: str) -> str:
    wording = optional_module("backoffice.wording")
    return wording.audit_verb(action) if wording else gettext(action)


class Words:
    """A person page's words in one language: texts (t), the same as markup as a template's
    _() gives them (m), codes by context (code), audit verbs, fields and values, weekdays,
    kind labels and amounts."""

    def __init__(self, locale: str):
        from babel.dates import get_day_names

        self.locale = locale
        self.t = _Translated(gettext)
        self.m = _Translated(lambda msgid: Markup(self.t[msgid]))
        self.h = _Translated(lambda msgid: str(escape(self.t[msgid])))
        self.codes: dict[str, _Translated] = {}
        self.verbs = _Translated(_verb)
        self.fields = _Translated(self._field)
        self.values = _Translated(self._value)
        self.money = _Translated(
            lambda cents: format_currency(Decimal(cents) / 100, "EUR"))
        self.weekdays = get_day_names("abbreviated", locale=locale)
        self.kinds = {k: str(v) for k, v in KIND_LABELS.items()}
        self.kinds_h = {k: str(escape(v)) for k, v in self.kinds.items()}

    def tr(self, msgid: str, **params) -> Markup:
        """Translate as a template's _() does (a format string, its values escaped)."""
        text = self.m[msgid]
        return text % params if params else text

    def code(self, context: str, code) -> str:
        """Return a stored code in this language's words (a state, an outcome)."""
        code = getattr(code, "value", code)
        if not code:
            return ""
        table = self.codes.get(context)
        if table is None:
            table = self.codes[context] = _Translated(_code_text(context))
        return table[code]

    @staticmethod
    def _field(field: str) -> str:
        wording = optional_module("backoffice.wording")
        return str(escape(wording.audit_field(field)))

    @staticmethod
    def _value(key) -> str:
        field, value = key[0], key[2]
        return str(escape(optional_module("backoffice.wording").audit_value(value, field)))


def _per_request(name: str, make):
    """Return the request's value of name, made on first use. On the request itself, not on g:
    tests run many requests in one app context, and a reader's words must not outlive theirs."""
    store = request._get_current_object().__dict__.setdefault("_person_page", {})
    found = store.get(name)
    if found is None:
        found = store[name] = make()
    return found


def _words_now() -> "Words":
    cache = current_app.extensions.setdefault("person_words", {})
    locale = str(get_locale())
    found = cache.get(locale)
    if found is None:
        found = cache[locale] = Words(locale)
    return found


def words() -> Words:
    """Return the page's words in the reader's language (built once per language)."""
    return _per_request("words", _words_now)


def zone() -> ZoneInfo:
    return _per_request("zone", lambda: ZoneInfo(str(get_timezone())))


def local(moment: datetime | None, tz: ZoneInfo | None = None) -> str:
    """Return a stored (naive UTC) moment in the business's time zone: 07/12/2026 21:05."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(tz or zone()).strftime("%d/%m/%Y %H:%M")


def day(value) -> str:
    """Return a day as its short weekday and date in the reader's language ('vie 11/12')."""
    return f"{words().weekdays[value.weekday()]} {value:%d/%m}"


def euros(cents: int | None) -> str:
    """Return cents as euros in the reader's format (12,50 € or €12.50)."""
    return words().money[cents or 0]


def said(msgid: str, **params) -> str:
    """Return msgid in the reader's language, filled in, from the process's memo."""
    text = words().t[msgid]
    return text % params if params else text


def tr(msgid: str, **params) -> Markup:
    """Translate as a template's _() does (a format string, its values escaped), from the
    process's memo: a person's page says a hundred fixed things."""
    text = words().m[msgid]
    return text % params if params else text


def word(context: str, code) -> str:
    """Return a stored code in the reader's words (a state, an outcome), or the code itself."""
    return words().code(context, code)


def verb(action: str) -> str:
    """Return an audit row's action as the reader says it (as the record history does)."""
    return words().verbs[action]


_SLOT = 987654321


def page_url(endpoint: str, arg: str = "id") -> str:
    """Return endpoint's URL for any record as a format string ("/admin/x/?id={}"), built once
    per process: a page links a hundred rows without a url_for each."""
    cache = current_app.extensions.setdefault("person_urls", {})
    key = (endpoint, arg, request.script_root)
    if key not in cache:
        url = url_for(endpoint, **{arg: _SLOT})
        cache[key] = url.replace("{", "{{").replace("}", "}}").replace(str(_SLOT), "{}")
    return cache[key]


def record_urls() -> dict[str, str | None]:
    """Return the record pages a person's page links to, None where the reader's role may not
    open them (or the area is not installed)."""
    user = g.user
    ops, finance = user.has_role("admin", "ops_agent"), user.has_role("admin", "finance")
    has = {name: optional_module(f"{name}.models") is not None
           for name in ("cases", "billing", "vetting")}
    return {
        "booking": page_url("service_request.details_view") if ops else None,
        "coverage": page_url("coverage.booking", "request_id") if ops else None,
        "invoice": page_url("billing_invoice.details_view") if finance and has["billing"]
        else None,
        "case": page_url("cases.case", "case_id") if has["cases"] else None,
        "application": page_url("vetting.application", "app_id")
        if has["vetting"] and user.has_role("admin", "vetting") else None,
    }


def duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(seconds, 60)
    return said("%(m)d min %(s)02d s", m=minutes, s=rest)


def _link(text: str, href: str | None) -> str:
    if not href:
        return str(escape(text))
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _href(urls: dict, kind: str, record_id) -> str | None:
    pattern = urls.get(kind)
    return pattern.format(record_id) if pattern and str(record_id or "").isdigit() else None


def _case_number(case_id) -> str:
    return f"C-{int(case_id):06d}"


def _what(e: timeline.Entry, urls: dict, w: Words) -> tuple[str, str | None]:
    """Return (headline, link) of an entry."""
    t = w.t
    if e.src == "interaction":
        if e.kind == "note":
            return t["Note"], None
        head = w.code("interaction_kind", e.title)
        if e.extra:
            head += " · " + w.code("call_outcome", e.extra)
        return head, None
    if e.src.startswith("audit_"):
        if e.src == "audit_booking":
            href = _href(urls, "booking", e.ref)
            return f"{t['Booking #%(id)s'] % {'id': e.ref}}: {w.verbs[e.title]}", href
        return w.verbs[e.title], None
    if e.src == "outbox":
        return w.code("outbox_state", e.actor) + ": " + (e.body or ""), None
    if e.src == "article":
        return (f"{w.code('article_kind', e.title)} · {_case_number(e.ref)}: {e.body or ''}",
                _href(urls, "case", e.ref))
    if e.src == "case":
        return (f"{_case_number(e.ref)} {e.body or ''} · {w.code('case_state', e.title)}",
                _href(urls, "case", e.ref))
    if e.src == "survey":
        return t["Survey answered: %(score)s/5"] % {"score": e.num}, None
    if e.src == "incident":
        href = _href(urls, "booking", e.ref)
        return f"{t['Incident']}: {w.code('incident_kind', e.title)} · {e.actor}", href
    if e.src == "invoice":
        code = f"{e.ref}-{e.num:06d}"
        href = _href(urls, "invoice", e.id)
        return (t["Invoice %(code)s issued: %(amount)s"] % {
            "code": code, "amount": w.money[e.amount or 0]}
            + f" · {w.code('invoice_status', e.title)}", href)
    if e.src == "vetting":
        return t["Vetting: %(stage)s"] % {"stage": w.code("vetting_stage", e.title)}, None
    return e.kind, None


def shown_changes(src: str, changes, w: Words | None = None):
    """Return the changes of an audit row that a person's page shows: internal columns never,
    and of a booking only what an agent talks about (the reason in the reader's language)."""
    if not isinstance(changes, dict):
        return changes
    keep = {k: v for k, v in changes.items() if k not in INTERNAL_FIELDS
            and (src != "audit_booking" or k in BOOKING_FIELDS)}
    reason = keep.get("cancellation_reason")
    if isinstance(reason, list) and len(reason) == 2:
        t = (w or words()).t
        keep["cancellation_reason"] = [t[v] if v else v for v in reason]
    return keep


def changes_html(changes, w: Words | None = None) -> str:
    """Return an audit row's changes as the record history words them (render_changes), each
    field name and each value worded once per process and language, not once per line."""
    if optional_module("backoffice.wording") is None or not isinstance(changes, dict):
        return str(render_changes(changes))
    w = w or words()
    items = []
    for field, pair in changes.items():
        if field in HIDDEN_CHANGES:
            continue
        values = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (pair,)
        shown = " &rarr; ".join(_value(w, v, field) for v in values)
        items.append(f"<li>{w.fields[field]}: {shown}</li>")
    return f'<ul class="list-unstyled mb-0">{"".join(items)}</ul>'


def _value(w: Words, value, field: str) -> str:
    if value is None:
        return "—"
    if not isinstance(value, str | int | float | bool):
        return str(escape(optional_module("backoffice.wording").audit_value(value, field)))
    return w.values[(field, type(value).__name__, value)]


def _detail(e: timeline.Entry, w: Words) -> str:
    if e.src.startswith("audit_"):
        try:
            changes = json.loads(e.body) if e.body else None
        except ValueError:
            changes = e.body
        shown = changes_html(shown_changes(e.src, changes, w), w)
        if e.extra:
            shown += f'<div class="text-muted">{escape(e.extra)}</div>'
        return shown
    parts = []
    if e.src == "interaction":
        parts = [e.ref or "", duration(e.num), e.body or ""]
    elif e.src == "article" and e.num is not None:
        parts = [duration(e.num)]
    elif e.src == "survey":
        parts = [e.actor or "", e.body or ""]
    elif e.src in ("incident", "vetting"):
        parts = [e.body or ""]
    elif e.src == "outbox":
        parts = [e.ref or ""]
    return "<br>".join(str(escape(p)) for p in parts if p)


_ACTOR_SOURCES = frozenset({"interaction", "audit_client", "audit_booking", "audit_professional",
                            "vetting", "article"})


def _internal_only(e: timeline.Entry) -> bool:
    """Tell an update of the person that changed only internal columns (a Stripe customer id
    set): it would read "changed" and nothing else."""
    if e.src not in ("audit_client", "audit_professional") or e.title != "update" or not e.body:
        return False
    try:
        changes = json.loads(e.body)
    except ValueError:
        return False
    return isinstance(changes, dict) and bool(changes) and not {
        k for k in shown_changes(e.src, changes) if k not in HIDDEN_CHANGES}


def timeline_rows(page: timeline.Page, urls: dict) -> Markup:
    """Return a timeline page's entries as the table's rows, as the reader reads them."""
    w, tz = words(), zone()
    rows = []
    for e in page.entries:
        if _internal_only(e):
            continue
        what, href = _what(e, urls, w)
        who = e.actor or "" if e.src in _ACTOR_SOURCES else ""
        kind = escape(e.kind)
        rows.append(
            f'<tr data-kind="{kind}"><td class="text-nowrap">{local(e.at, tz)}</td>'
            f'<td><span class="badge badge-light">{w.kinds_h.get(e.kind, kind)}</span></td>'
            f"<td>{_link(what, href)}</td><td>{_detail(e, w)}</td>"
            f'<td class="text-muted">{escape(who)}</td></tr>')
    if not rows:
        rows.append(f'<tr><td colspan="5" class="text-muted">{w.h["Nothing recorded yet."]}'
                    "</td></tr>")
    return Markup("\n".join(rows))


def timeline_links(person_id: int, *, kinds: list[str], offered: tuple[str, ...],
                   cursor: str | None, next_cursor: str | None) -> tuple[Markup, Markup]:
    """Return the timeline's kind filter (its <li>s) and its pager's links, each link made from
    the page's URL built once (page_url), not a url_for each."""
    w = words()
    base = page_url(f"{request.blueprint}.details_view").format(person_id)
    items = [f'<li class="nav-item"><a class="nav-link py-1{" active" if not kinds else ""}" '
             f'href="{escape(base)}#timeline">{w.h["All"]}</a></li>']
    for k in offered:
        items.append(f'<li class="nav-item"><a class="nav-link py-1'
                     f'{" active" if k in kinds else ""}" data-kind="{k}" '
                     f'href="{escape(base)}&amp;kind={k}#timeline">{w.kinds_h[k]}</a></li>')
    chosen = "".join(f"&kind={k}" for k in kinds)
    pager = []
    if cursor:
        pager.append(f'<a class="btn btn-sm btn-outline-secondary" '
                     f'href="{escape(base + chosen)}#timeline">&laquo; {w.h["Newest"]}</a>')
    if next_cursor:
        older = f"{base}{chosen}&{urlencode({'before': next_cursor})}"
        pager.append(f'<a class="btn btn-sm btn-outline-secondary" id="timeline-older" '
                     f'href="{escape(older)}#timeline">{w.h["Older"]} &raquo;</a>')
    return Markup("\n  ".join(items)), Markup("\n  ".join(pager))


def lines(page: timeline.Page, urls: dict) -> Markup:
    """Return a timeline page's rows (the name the views used)."""
    return timeline_rows(page, urls)


_CASES: dict = {}


def person_cases(session, *, entity: str, person_id: int, limit: int = 10):
    """Return the newest cases a person asked or that are linked to them, as far as the reader
    may read them, and whether there are more; None when the desk is not installed."""
    models = optional_module("cases.models")
    if models is None:
        return None
    visible, visible_key = case_visibility()
    key = (entity, limit, visible_key)
    stmt = _CASES.get(key)
    if stmt is None:  # built once per person kind and reader's team: the page pays no build
        case, link, category = models.Case, models.CaseLink, models.CaseCategory
        person = sa.bindparam("person_id", type_=sa.Integer)
        linked = sa.select(link.case_id).where(link.entity == entity,
                                               link.entity_id == sa.bindparam("person_key"))
        condition = sa.or_(getattr(case, f"{entity}_id") == person, case.id.in_(linked))
        stmt = _CASES[key] = (
            sa.select(case.id, case.subject, case.state, case.created_at, category.code)
            .outerjoin(category, category.id == case.category_id)
            .where(condition, *(() if visible is None else (visible,)))
            .order_by(case.id.desc()).limit(limit + 1))
    rows = list(session.execute(stmt, {"person_id": person_id, "person_key": str(person_id)}))
    return rows[:limit], len(rows) > limit


def timeline_args(kinds_offered: tuple[str, ...]) -> tuple[list[str], str | None]:
    """Return the kinds the reader filtered by (known ones only) and the page's cursor."""
    kinds = [k for k in request.args.getlist("kind") if k in kinds_offered]
    return kinds, request.args.get("before") or None


def case_condition():
    """Return the SQL condition selecting the cases the reader may read (None: no desk)."""
    return case_visibility()[0]


def case_visibility() -> tuple:
    """Return the SQL condition selecting the cases the reader may read (None: no desk) and
    its text, the key of the statements built for it; once per request."""
    def make():
        service = optional_module("cases.service")
        user = g.get("user")
        condition = None if service is None or user is None else service.visible_filter(user)
        return condition, None if condition is None else str(condition.compile(
            compile_kwargs={"literal_binds": True}))

    return _per_request("case_visibility", make)


def csrf_token() -> str:
    """Return the page's CSRF token (the one the template's csrf_token() gives)."""
    from flask_wtf.csrf import generate_csrf

    return generate_csrf()


def reminders_offered() -> bool:
    """Return whether reminders can be turned on and off here (the notifications area is in)."""
    return optional_module("notifications.service") is not None


class PersonActionsMixin:
    """The quick actions of a person's page, posted to this view: log a call, write a note,
    turn reminders on or off, mark a bouncing address as working again.

    person_arg is the keyword the services take (client or professional)."""

    person_arg = "client"

    def _acting_on(self):
        """Return (the person the form names, None), or (None, the redirect that refuses)."""
        person_id = parse_id(request.form.get("id", ""))
        if not self.can_write():
            return None, self._refuse_read_only(person_id)
        person = db.session.get(self.model, person_id) if person_id else None
        if person is None:
            flash(admin_gettext("Record does not exist."), "error")
            return None, redirect(url_for(".index_view"))
        return person, None

    def _page_model(self):
        """Return (the record the page shows, its return url), or (None, the redirect)."""
        return_url = get_redirect_target() or endpoint_url(self, ".index_view")
        model = self.get_one(request.args.get("id", ""))
        if model is None:
            flash(admin_gettext("Record does not exist."), "error")
            return None, redirect(return_url)
        return model, return_url

    @expose("/reminders/", methods=("POST",))
    def set_reminders(self):
        """Turn the person's reminders on or off (notifications.service.set_reminders)."""
        person, refused = self._acting_on()
        service = optional_module("notifications.service")
        if refused or service is None:
            return refused or redirect(url_for(".index_view"))
        enabled = request.form.get("enabled") == "1"
        commit_or_flash(
            lambda: service.set_reminders(session=db.session, person=person, enabled=enabled),
            gettext("Reminders turned on.") if enabled else gettext("Reminders turned off."))
        return redirect(url_for(".details_view", id=person.id, _anchor="contact"))

    @expose("/mail-works/", methods=("POST",))
    def clear_bounce(self):
        """Mark the person's address as working again: mails and reminders go to it."""
        person, refused = self._acting_on()
        if refused:
            return refused
        commit_or_flash(lambda: interactions.clear_email_failing(db.session, person=person),
                        gettext("The address is marked as working again."))
        return redirect(url_for(".details_view", id=person.id, _anchor="contact"))

    def _back(self, person_id):
        return redirect(url_for(".details_view", id=person_id, _anchor="timeline"))

    def _refuse_read_only(self, person_id):
        flash(gettext("Your role can read this page but not act on it."), "error")
        return redirect(url_for(".details_view", id=person_id) if person_id
                        else url_for(".index_view"))

    @expose("/call/", methods=("POST",))
    def log_call(self):
        person, refused = self._acting_on()
        if refused:
            return refused
        form = request.form

        def call():
            return interactions.log_call(
                db.session, direction=form.get("direction", ""), phone=form.get("phone"),
                outcome=form.get("outcome", ""),
                duration_s=interactions.parse_duration(form.get("duration")),
                body=form.get("body"), staff=g.user, now=datetime.now(UTC).replace(tzinfo=None),
                **{self.person_arg: person})

        commit_or_flash(call, gettext("Call logged."))
        return self._back(person.id)

    @expose("/note/", methods=("POST",))
    def write_note(self):
        person, refused = self._acting_on()
        if refused:
            return refused
        commit_or_flash(lambda: interactions.write_note(
            db.session, body=request.form.get("body"), staff=g.user,
            now=datetime.now(UTC).replace(tzinfo=None), **{self.person_arg: person}),
            gettext("Note written."))
        return self._back(person.id)


