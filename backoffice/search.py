"""The top-bar search: what a typed key is and the records it names, grouped by kind.

What a key is, tried in this order:
- ``C-000123``, ``c123``: a case number.
- ``D2026-000123``, ``F2026-12``, ``R2026-000004``: an invoice (or rectifying invoice) number.
- ``#123``: a service request number.
- ``123`` (one to eight digits): a record number, looked up as a service request, a case, a
  client and a professional, since agents read all four out as bare numbers; several hits
  make a grouped list. Nine digits or more is a phone number (Spanish numbers have nine).
- anything with an ``@``: an email, matched whole and case-insensitively (stored lowercase).
- digits with ``+``, spaces, dots, dashes, slashes or brackets: a phone number, normalised to
  E.164 (Spain unless it says otherwise). One that cannot be parsed is searched as text, as
  the start of the numbers on file ("600 11 2" finds +34600112...), and the page says it was
  not recognised.
- anything else, two characters or more: the name of a client or professional, names that
  start with it first, then names that hold each word.

Every query reads an index: ids, (series, number), email, phone_e164, and names through the
pg_trgm index on client.name on PostgreSQL (professionals are a few thousand rows). Matching
is ILIKE: on SQLite that folds the case of ASCII letters only ("Única" is not found as
"única" there; it is on PostgreSQL).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Client, Professional, ServiceRequest
from backoffice.optional import optional_module
from backoffice.phones import DEFAULT_REGION
from backoffice.phones import normalise as normalise_phone

# The groups of a result list, in the order they are shown; each kind is a record page.
GROUPS = ("client", "professional", "service_request", "invoice", "case")
GROUP_OF = {"rectifying_invoice": "invoice"}
GROUP_MAX = 20
# Names are at most 120 characters: a longer text cannot match one, and is cut there.
TEXT_MAX = 120
ID_MAX = 2**31 - 1  # record ids are INTEGER columns: a larger number is nobody's
TRIGRAM = 3
NAME_MIN = 2  # one letter would match a tenth of everyone

_CASE = re.compile(r"c-?\s*0*(\d{1,18})", re.I)
_INVOICE = re.compile(r"([a-z]{1,3}\d{4})\s*[-/]?\s*0*(\d{1,9})", re.I)
_REQUEST = re.compile(r"#\s*0*(\d{1,18})")
_NUMBER = re.compile(r"\d{1,8}")
_PHONE = re.compile(r"[\d\s().\-/+]+")


@dataclass(frozen=True)
class Key:
    """What the typed text is: its kind and the value the search looks for."""

    kind: str  # empty, case, invoice, request, number, email, phone, text
    text: str = ""
    number: int | None = None
    series: str | None = None
    e164: str | None = None
    phone_unrecognised: bool = False  # looked like a phone number, searched as text
    cut: bool = False  # longer than TEXT_MAX: only its start was searched

    @property
    def too_short(self) -> bool:
        """Tell whether the text is too short to search names by."""
        return self.kind == "text" and len(self.text) < NAME_MIN


@dataclass(frozen=True)
class Hit:
    """One record found: its kind (which page opens it), id and what names it."""

    kind: str
    id: int
    label: str
    detail: str = ""
    day: date | None = None

    @property
    def group(self) -> str:
        return GROUP_OF.get(self.kind, self.kind)


@dataclass
class Found:
    """The hits of a search by group, at most GROUP_MAX each; `more` names the fuller groups."""

    key: Key
    groups: dict[str, list[Hit]] = field(default_factory=dict)
    more: set[str] = field(default_factory=set)

    def add(self, hits: list[Hit]) -> None:
        for hit in hits:
            group = self.groups.setdefault(hit.group, [])
            if len(group) >= GROUP_MAX:
                self.more.add(hit.group)
            else:
                group.append(hit)

    @property
    def total(self) -> int:
        return sum(map(len, self.groups.values()))

    def single(self) -> Hit | None:
        """Return the one record found, if exactly one was."""
        if self.total != 1 or self.more:
            return None
        return next(hit for hits in self.groups.values() for hit in hits)

    def in_order(self) -> list[tuple[str, list[Hit]]]:
        return [(g, self.groups[g]) for g in GROUPS if self.groups.get(g)]


def clean(raw: str | None) -> tuple[str, bool]:
    """Return the text to search (no control characters, spaces collapsed) and if it was cut."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in (raw or ""))
    text = " ".join(text.split())
    return text[:TEXT_MAX].strip(), len(text) > TEXT_MAX


def classify(raw: str | None) -> Key:
    """Return what the typed text is (see the module's docstring for the order)."""
    text, cut = clean(raw)
    if not text:
        return Key("empty", cut=cut)
    if m := _CASE.fullmatch(text):
        return _numbered("case", text, m.group(1), cut)
    if m := _INVOICE.fullmatch(text):
        return Key("invoice", text, number=int(m.group(2)), series=m.group(1).upper(), cut=cut)
    if m := _REQUEST.fullmatch(text):
        return _numbered("request", text, m.group(1), cut)
    if _NUMBER.fullmatch(text):
        return _numbered("number", text, text, cut)
    if "@" in text:
        return Key("email", text.lower(), cut=cut)
    if _PHONE.fullmatch(text) and any(c.isdigit() for c in text):
        e164 = normalise_phone(text)
        if e164:
            return Key("phone", text, e164=e164, cut=cut)
        return Key("text", text, phone_unrecognised=True, cut=cut)
    return Key("text", text, cut=cut)


def _numbered(kind: str, text: str, digits: str, cut: bool) -> Key:
    number = int(digits)
    # A number no record can have (0, past INTEGER) finds nothing rather than failing the query.
    return Key(kind, text, number=number if 0 < number <= ID_MAX else None, cut=cut)


def find(session: Session, *, key: Key, kinds: frozenset[str], case_condition=None) -> Found:
    """Return the records key names among kinds (the pages the reader may open).

    case_condition is the SQL condition on Case that selects the cases the reader may read.
    """
    found = Found(key)
    if key.kind == "empty" or key.too_short:
        return found
    if key.kind in ("case", "request", "number"):
        if key.number is None:
            return found
        wanted = {"case": ("case",), "request": ("service_request",),
                  "number": ("service_request", "case", "client", "professional")}[key.kind]
        for kind in wanted:
            if kind in kinds:
                found.add(_BY_ID[kind](session, key.number, case_condition))
    elif key.kind == "invoice":
        found.add(_invoices(session, key, kinds))
    elif key.kind in ("email", "phone"):
        for kind, model in (("client", Client), ("professional", Professional)):
            if kind in kinds:
                column = model.email if key.kind == "email" else model.phone_e164
                value = key.text if key.kind == "email" else key.e164
                found.add(_people(session, kind, model, column == value))
    else:
        for kind, model in (("client", Client), ("professional", Professional)):
            if kind in kinds:
                found.add(_named(session, kind, model, key))
    return found


def _person(kind: str, row) -> Hit:
    return Hit(kind, row.id, row.name or "—", " · ".join(v for v in (row.email, row.phone) if v))


def _live(model):
    """Return the condition that leaves out clients merged into another (their page points
    to the one kept, which search finds)."""
    return model.merged_into_id.is_(None) if model is Client else sa.true()


def _people(session: Session, kind: str, model, condition) -> list[Hit]:
    rows = session.execute(sa.select(model.id, model.name, model.email, model.phone)
                           .where(condition, _live(model)).order_by(model.id)
                           .limit(GROUP_MAX + 1))
    return [_person(kind, row) for row in rows]


def escape_like(text: str) -> str:
    """Return text with LIKE's wildcards (and the escape character) taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _named(session: Session, kind: str, model, key: Key) -> list[Hit]:
    """Return people whose name starts with the text, then those whose name holds each word;
    for a number not recognised, those whose phone number starts with its digits.

    No query sorts in SQL: ordered by name, PostgreSQL walks the name index instead of the
    trigram one and reads most of the table for a short prefix. Twenty are sorted here.
    """
    columns = (model.id, model.name, model.email, model.phone)
    prefix = sa.select(*columns).where(
        model.name.ilike(escape_like(key.text) + "%", escape="\\"), _live(model)
    ).limit(GROUP_MAX + 1)
    words = key.text.split()
    # A word of three letters or more is what the trigram index can find; shorter ones only
    # narrow what it found (a contains-search on "ma" alone would read every row).
    if key.phone_unrecognised:
        hits = []  # digits and dashes name nobody: only the numbers on file are searched
    elif not any(len(w) >= TRIGRAM for w in words):
        hits = _sorted(kind, session.execute(prefix))
    else:
        # Every name that starts with the text holds its words: one query finds both kinds,
        # and the prefix query runs only when there are more than a group shows.
        hits = _sorted(kind, session.execute(sa.select(*columns).where(
            *(model.name.ilike(f"%{escape_like(w)}%", escape="\\") for w in words), _live(model))
            .limit(GROUP_MAX + 1)))
        if len(hits) > GROUP_MAX:
            first = _sorted(kind, session.execute(prefix))
            hits = first + [h for h in hits if h.id not in {f.id for f in first}]
        else:
            start = key.text.casefold()
            hits.sort(key=lambda h: not h.label.casefold().startswith(start))  # stable
    if key.phone_unrecognised and len(hits) <= GROUP_MAX and (start := phone_prefix(key.text)):
        column = model.phone_e164
        # The range reads the index; LIKE keeps exactly the numbers that start so.
        hits += _more(session, kind, sa.select(*columns).where(
            column >= start, column < start[:-1] + chr(ord(start[-1]) + 1),
            column.like(start + "%"), _live(model)), model, hits)
    return hits


def _more(session: Session, kind: str, query, model, hits: list[Hit]) -> list[Hit]:
    """Return the people query finds besides hits, up to the group's limit (and one more)."""
    if hits:
        query = query.where(model.id.not_in([h.id for h in hits]))
    return _sorted(kind, session.execute(query.limit(GROUP_MAX + 1 - len(hits))))


def _sorted(kind: str, rows) -> list[Hit]:
    return sorted((_person(kind, row) for row in rows), key=lambda h: (h.label.lower(), h.id))


def phone_prefix(text: str) -> str | None:
    """Return how the E.164 numbers that begin like a partly typed number begin, if it has
    three digits or more: "600 11 2" -> "+34600112", "+44 20" -> "+4420"."""
    import phonenumbers  # as phones.normalise: loaded on first use

    digits = "".join(c for c in text if c.isdigit())
    if len(digits) < 3:
        return None
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:] if len(digits) >= 5 else None
    return f"+{phonenumbers.country_code_for_region(DEFAULT_REGION)}{digits}"


def _request(session: Session, number: int, _condition) -> list[Hit]:
    row = session.execute(
        sa.select(ServiceRequest.id, ServiceRequest.service_date, Client.name)
        .join(Client, Client.id == ServiceRequest.client_id)
        .where(ServiceRequest.id == number)).first()
    return [Hit("service_request", row.id, f"#{row.id}", row.name, row.service_date)] if row else []


def _case(session: Session, number: int, condition) -> list[Hit]:
    cases = optional_module("cases.models")
    if cases is None:
        return []
    Case = cases.Case
    query = sa.select(Case.id, Case.subject).where(Case.id == number)
    if condition is not None:
        query = query.where(condition)
    row = session.execute(query).first()
    return [Hit("case", row.id, cases.format_number(row.id), row.subject)] if row else []


def _client(session: Session, number: int, _condition) -> list[Hit]:
    return _people(session, "client", Client, Client.id == number)


def _professional(session: Session, number: int, _condition) -> list[Hit]:
    return _people(session, "professional", Professional, Professional.id == number)


_BY_ID = {"service_request": _request, "case": _case, "client": _client,
          "professional": _professional}


def _invoices(session: Session, key: Key, kinds: frozenset[str]) -> list[Hit]:
    billing = optional_module("billing.models")
    if billing is None:
        return []
    hits = []
    if "invoice" in kinds:
        inv = billing.Invoice
        for row in session.execute(
                sa.select(inv.id, inv.series, inv.number, inv.bill_to_name, inv.issued_on)
                .where(inv.series == key.series, inv.number == key.number)):
            hits.append(Hit("invoice", row.id, f"{row.series}-{row.number:06d}",
                            row.bill_to_name or "", row.issued_on))
    if "rectifying_invoice" in kinds:
        rect = billing.RectifyingInvoice
        for row in session.execute(
                sa.select(rect.id, rect.series, rect.number, rect.reason, rect.issued_on)
                .where(rect.series == key.series, rect.number == key.number)):
            hits.append(Hit("rectifying_invoice", row.id, f"{row.series}-{row.number:06d}",
                            row.reason, row.issued_on))
    return hits
