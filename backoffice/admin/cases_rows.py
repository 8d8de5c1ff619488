"""The case desk's pages drawn in one Python pass: the queue's rows, the conversation and the
option lists, with their words translated once per language per process and their links built
from one prefix, not url_for.

A queue page of 25 rows or a case of 50 articles spent most of its time in Jinja calls, a
gettext per word and a url_for per link (bench/cases_list.py); the SQL was a few milliseconds.
"""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale, gettext
from markupsafe import Markup, escape

from backoffice import wording
from backoffice.admin.cases_common import desk_zone, when
from backoffice.admin.urls import fixed_url
from backoffice.i18n import in_context
from backoffice.models import StaffUser
from cases import attachments, display
from cases.models import Article, Attachment, CaseCategory, Macro, format_number

BADGE_CLASSES = {"green": "badge-success", "amber": "badge-warning", "red": "badge-danger"}
BADGE_WORDS = {"green": "on time", "amber": "due soon", "red": "breached"}
KIND_ICONS = {"mail_in": "✉ ←", "mail_out": "✉ →", "call_in": "☎ ←", "call_out": "☎ →",
              "note": "✎", "summary": "☰"}
OUTCOME_WORDS = {"solved": "solved on the call", "reached": "spoke with them",
                 "callback": "call back", "no_answer": "no answer", "voicemail": "voicemail",
                 "transferred": "transferred", "promised_payment": "promised to pay",
                 "wrong_number": "wrong number"}
DESK_ROLES = ("ops_agent", "finance", "vetting", "admin")
_ID = 987654321  # stands for any id in a URL built once


class _Translated(dict):
    """Words in one language, each translated on first use and kept for the process."""

    def __init__(self, translate):
        super().__init__()
        self._translate = translate

    def __missing__(self, key):
        value = self[key] = self._translate(key)
        return value


class Words:
    """The desk's words in one language: texts (t), their HTML (h) and the labels of codes."""

    def __init__(self):
        self.t = _Translated(gettext)
        self.h = _Translated(lambda text: escape(self.t[text]))
        self.codes = {context: _Translated(lambda value, c=context: escape(
            in_context(c, getattr(value, "value", value)))) for context in
            ("case_state", "case_priority", "case_channel", "article_kind")}


def refused_note(note: str) -> str:
    """Return why a part was not kept, in the reader's language (older notes: as written)."""
    found = attachments.refused_reason(note)
    if found is None:
        return note
    text, values = found
    return gettext(text, **{k: wording.decimal(v, 1 if k == "size" else 0)
                            for k, v in values.items()})


def words() -> Words:
    """Return the desk's words in the reader's language (built once per language)."""
    cache = current_app.extensions.setdefault("case_desk_words", {})
    locale = str(get_locale())
    found = cache.get(locale)
    if found is None:
        found = cache[locale] = Words()
    return found


CASE_FORMS = ("requester", "state", "reply", "note", "call", "assign", "update", "set_tags",
              "link", "unlink", "merge", "playbook")


def case_urls(case_id: int) -> dict[str, str]:
    """Return the URL of each endpoint a case page's forms post to, by name ("reply"...)."""
    return {name: id_url(f"cases.{name}", case_id=None).format(case_id) for name in CASE_FORMS}


def id_url(endpoint: str, **values) -> str:
    """Return endpoint's URL as a format string whose {} takes an id (one url_for a process)."""
    key = next(k for k, v in values.items() if v is None)
    url = fixed_url(endpoint, **{**values, key: _ID})
    return url.replace("{", "{{").replace("}", "}}").replace(str(_ID), "{}")


def badge_html(badge: str) -> str:
    """Return an SLA badge (green, amber, red) as HTML."""
    return (f'<span class="badge {BADGE_CLASSES[badge]}" data-badge="{badge}">'
            f'{words().h[BADGE_WORDS[badge]]}</span>')


def outcome_names() -> dict[str, str]:
    """Return the usual call outcomes' names in the reader's language."""
    t = words().t
    return {code: t[text] for code, text in OUTCOME_WORDS.items()}


def options(pairs, selected=None) -> Markup:
    """Return <option>s for (value, HTML label) pairs, the selected value marked."""
    selected = None if selected is None else str(selected)
    return Markup("".join(
        f'<option value="{escape(v)}"{" selected" if str(v) == selected else ""}>{label}'
        "</option>" for v, label in pairs))


# -- the lists a page offers: categories, agents and macros in one round trip ---------------------

_cat, _staff, _macro = CaseCategory.__table__, StaffUser.__table__, Macro.__table__
_NO_TEXT = sa.null().cast(sa.String)
# One shape for the three lists: (list, id, name, second name / roles / kind, active, outcomes)
# and the keys each list is ordered by.
_LIST_PARTS = (
    sa.select(sa.literal("category").label("list"), _cat.c.id, _cat.c.name_es.label("a"),
              _cat.c.name_en.label("b"), _cat.c.active.label("flag"), _NO_TEXT.label("c"),
              sa.case((_cat.c.active, 0), else_=1).label("o1"), _cat.c.sort.label("o2"),
              sa.literal("").label("o3")),
    sa.select(sa.literal("agent"), _staff.c.id, _staff.c.name, _staff.c.roles, _staff.c.active,
              _NO_TEXT, sa.literal(0), sa.literal(0), _staff.c.name)
    .where(_staff.c.active.is_(True)),
    sa.select(sa.literal("macro"), _macro.c.id, _macro.c.name, _macro.c.kind, _macro.c.active,
              _macro.c.outcomes, sa.literal(0), sa.literal(0), _macro.c.name)
    .where(_macro.c.active.is_(True)),
)
# Two fixed statements (without macros, with them) rather than one with an expanding IN
# parameter, whose SQL is rewritten at every execution.
_LISTS = {with_macros: sa.union_all(*_LIST_PARTS[:3 if with_macros else 2]).order_by(
    sa.literal_column("list"), sa.literal_column("o1"), sa.literal_column("o2"),
    sa.literal_column("o3"), sa.literal_column("id")) for with_macros in (False, True)}


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    active: bool


@dataclass
class DeskLists:
    """Categories (active first, in the admin's order), the active staff who can be given
    cases, and the active macros as (id, name, kind, outcomes)."""

    categories: list[Category]
    agents: list[tuple[int, str]]
    macros: list[tuple]


def desk_lists(session, *, macros: bool = False) -> DeskLists:
    """Return the lists a desk page offers, read in one statement."""
    found = defaultdict(list)
    for row in session.execute(_LISTS[macros]):
        found[row[0]].append(row)
    english = str(get_locale()) == "en"
    return DeskLists(
        categories=[Category(r.id, r.b if english else r.a, r.flag) for r in found["category"]],
        agents=[(r.id, r.a) for r in found["agent"]
                if not set(r.b.split(",")).isdisjoint(DESK_ROLES)],
        macros=[(r.id, r.a, r.b, r.c) for r in found["macro"]])


# -- the queue ------------------------------------------------------------------------------------

def queue_rows(rows, *, now, categories: list[Category]) -> Markup:
    """Return the queue's rows (cases_queue.ROW_COLUMNS) as <tr>s, rendered in one pass."""
    w = words()
    path = escape(id_url("cases.case", case_id=None).replace("{}", ""))
    states, priorities = w.codes["case_state"], w.codes["case_priority"]
    unknown = f' <small class="text-muted">({w.h["unknown"]})</small>'
    badges = {b: badge_html(b) for b in BADGE_CLASSES}
    take = w.h["Take it"]
    category_names = {c.id: str(escape(c.name)) for c in categories}
    out = []
    for (case_id, subject, state, priority, category_id, _channel, assignee, client_id, pro_id,
         _contact_id, client_name, pro_name, contact_name, email, phone, due, warned, breached,
         updated, *_count) in rows:
        number = format_number(case_id)
        state, priority = str(state), str(priority)
        requester = escape(client_name or pro_name or contact_name or email or phone or "")
        if not client_id and not pro_id:
            requester = f"{requester}{unknown}"
        shown_priority = priorities[priority]
        if priority in ("high", "urgent"):
            shown_priority = f'<strong class="text-danger">{shown_priority}</strong>'
        badge = display.badge_of(due, warned, breached, now)
        out.append(
            f'<tr data-case="{case_id}">'
            f'<td><input type="checkbox" name="ids" value="{case_id}" aria-label="{number}"></td>'
            f'<td class="text-nowrap"><a href="{path}{case_id}">{number}</a></td>'
            f'<td><a href="{path}{case_id}">{escape(subject)}</a></td>'
            f"<td>{requester}</td>"
            f'<td><span class="badge badge-light border" data-state="{state}">{states[state]}'
            f"</span></td><td>{shown_priority}</td>"
            f"<td>{category_names.get(category_id, '')}</td>"
            f"<td>{escape(assignee or '')}</td>"
            f'<td class="text-nowrap">{badges[badge] if badge else ""} '
            f"<small>{when(due)}</small></td>"
            f'<td class="text-nowrap small">{when(updated)}</td>'
            "<td>" + ("" if assignee else
                      f'<button class="btn btn-sm btn-outline-primary py-0" name="take" '
                      f'value="{case_id}" formaction="{path}{case_id}/take">{take}</button>')
            + "</td></tr>\n")
    return Markup("".join(out))


# -- the case page --------------------------------------------------------------------------------

_article, _author, _file = Article.__table__, StaffUser.__table__.alias("author"), \
    Attachment.__table__
# A case's conversation oldest first, each article with its author's name and its attachments
# (one row per attachment): one statement, plain rows.
CONVERSATION = (
    sa.select(_article.c.id, _article.c.kind, _article.c.public, _article.c.created_at,
              _author.c.name, _article.c.sender, _article.c.subject, _article.c.body,
              _article.c.body_html, _article.c.call_from, _article.c.call_to,
              _article.c.call_seconds, _article.c.call_outcome, _file.c.id,
              _file.c.original_name, _file.c.stored_name, _file.c.note, _file.c.size)
    .select_from(_article.outerjoin(_author, _author.c.id == _article.c.author_id)
                 .outerjoin(_file, _file.c.article_id == _article.c.id))
    .where(_article.c.case_id == sa.bindparam("case_id"))
    .order_by(_article.c.id, _file.c.id))


# A card is a pure function of its article's rows, the language and the time zone: each is
# drawn once per process and kept, bounded in characters like cases.display's bodies, so a case
# seen again draws only its new articles.
CARD_CACHE_CHARS = 5_000_000


class _Cards(dict):
    kept_chars = 0


def conversation(session, case_id: int) -> tuple[Markup, int]:
    """Return a case's conversation as HTML cards, rendered in one pass, and how many."""
    articles: list[list] = []
    for row in session.execute(CONVERSATION, {"case_id": case_id}):
        if articles and articles[-1][0][0] == row[0]:
            articles[-1].append(row)
        else:
            articles.append([row])
    cards = current_app.extensions.setdefault("case_desk_cards", _Cards())
    lang, zone, out = str(get_locale()), str(desk_zone()), []
    for rows in articles:
        key = (lang, zone, *map(tuple, rows))  # plain tuples: a Row keeps its result's metadata
        html = cards.get(key)
        if html is None:
            html = _card(rows)
            size = len(html) + sum(len(r[7] or "") + len(r[8] or "") for r in rows)
            if cards.kept_chars + size > CARD_CACHE_CHARS:
                cards.clear()
                cards.kept_chars = 0
            cards[key] = html
            cards.kept_chars += size
        out.append(html)
    return Markup("".join(out)), len(articles)


def _card(rows) -> str:
    """Return one article (its CONVERSATION rows, one per attachment) as an HTML card."""
    h = words().h
    (a_id, kind, public, created, author, sender, subject, text, html, call_from, call_to,
     seconds, outcome, *_file) = rows[0]
    kind = str(kind)
    private = "" if public else " border-warning"
    shade = "" if public else " bg-warning-subtle"
    internal = "" if public else f' <span class="badge badge-warning">{h["internal"]}</span>'
    call = ""
    if seconds is not None or call_from or call_to:
        call = f" · {escape(call_from or '?')} → {escape(call_to or '?')}"
        if seconds is not None:
            call += f" · {display.duration(seconds)}"
        if outcome:
            named = OUTCOME_WORDS.get(outcome)
            call += f" · {h[named] if named else escape(outcome)}"
    body = display.body_of(text, html)
    out = [f'<div class="card mb-2{private}" data-article="{a_id}" data-kind="{kind}">'
           f'<div class="card-header py-1 small d-flex justify-content-between{shade}">'
           f'<span><span aria-hidden="true">{KIND_ICONS.get(kind, "")}</span> '
           f"<strong>{words().codes['article_kind'][kind]}</strong>{internal} · "
           f"{escape(author or sender or '')}{call}</span>"
           f'<span class="text-nowrap">{when(created)}</span></div>'
           '<div class="card-body py-2">']
    if subject and kind in ("mail_in", "mail_out"):
        out.append(f'<div class="small text-muted">{escape(subject)}</div>')
    out.append('<div class="article-body" style="white-space: pre-wrap">'
               f"{escape(body.visible)}</div>")
    if body.folded:
        out.append(f'<details class="small text-muted"><summary>{h["Quoted text"]}</summary>'
                   f'<div style="white-space: pre-wrap">{escape(body.folded)}</div>'
                   "</details>")
    if body.html:  # sanitised by cases.mail_parse.safe_html
        out.append(f'<details class="small"><summary>{h["As formatted by the sender"]}'
                   f'</summary><div class="border p-2">{body.html}</div></details>')
    attachment_path = escape(id_url("cases.attachment", attachment_id=None).replace("{}", ""))
    for *_article, f_id, f_name, f_stored, f_note, f_size in rows:
        if f_id is None:
            continue
        if f_stored:
            name = (f'<a href="{attachment_path}{f_id}" data-attachment="{f_id}">'
                    f"{escape(f_name)}</a>")
        else:
            note = f": {escape(refused_note(f_note))}" if f_note else ""
            name = f'{escape(f_name)} <span class="text-muted">({h["not kept"]}{note})</span>'
        size = wording.number(round(f_size / 1024))
        out.append(f'<div class="small">📎 {name} <span class="text-muted">{size} KB</span></div>')
    out.append("</div>\n</div>\n")
    return "".join(out)
