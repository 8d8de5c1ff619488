"""A person's timeline: everything that happened with a client or a professional, newest first.

One UNION ALL statement reads every source (calls and notes, mails in and out, cases,
complaints, surveys, invoices, the audit rows of the person and of their bookings). Each branch
reads its own index newest first and stops at the page's size, so a page costs the same for a
client with ten entries or ten thousand. Pages are keyset-paged on (at, source, id): a cursor
names the last entry shown, and the next page starts after it whatever was added meanwhile.

Domains are optional to the core: a source whose domain is not installed is left out.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import (
    AuditEvent,
    Interaction,
    InteractionKind,
    OutboxMessage,
    Professional,
    ServiceRequest,
    StaffUser,
)
from backoffice.optional import optional_module

# What a reader can filter by, in the order the filter offers them.
CLIENT_KINDS = ("call", "note", "booking", "mail", "case", "complaint", "survey", "invoice",
                "change")
PROFESSIONAL_KINDS = ("call", "note", "mail", "case", "complaint", "survey", "vetting", "change")
# Case categories that are complaints: shown as such on the timeline.
COMPLAINT_CATEGORIES = ("service_complaint", "no_show")
PAGE_SIZE = 50
PAGE_MAX = 200
# The values a statement takes: it is built once per shape (kinds, cursor source, reader's
# case condition) and kept, so a page pays neither its construction nor its compilation.
PERSON = sa.bindparam("person_id", type_=sa.Integer)
PERSON_KEY = sa.bindparam("person_key", type_=sa.String)
EMAIL = sa.bindparam("email", type_=sa.String)
AFTER_AT = sa.bindparam("after_at", type_=sa.DateTime)
AFTER_ID = sa.bindparam("after_id", type_=sa.Integer)
LIMIT = sa.bindparam("limit", type_=sa.Integer)
_STATEMENTS: dict = {}
_STATEMENTS_MAX = 512
_COLUMNS = ("at", "src", "id", "kind", "ref", "title", "actor", "body", "extra", "num",
            "amount")


@dataclass(frozen=True)
class Entry:
    """One line of a timeline: when, from which source (its id there), what kind, and what
    the source says (the meaning of ref, title, body... depends on the source)."""

    at: datetime
    src: str
    id: int
    kind: str
    ref: str | None
    title: str | None
    actor: str | None
    body: str | None
    extra: str | None
    num: int | None
    amount: int | None


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class Cursor:
    at: datetime
    src: str
    id: int

    def encode(self) -> str:
        return f"{self.at.isoformat()}~{self.src}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        """Return the cursor a link carries, or None (the first page) for one that is not."""
        if not text:
            return None
        try:
            at, src, number = text.split("~")
            return cls(datetime.fromisoformat(at), src, int(number))
        except ValueError:
            return None


def _text(value) -> sa.ColumnElement:
    if value is None:
        return sa.cast(sa.null(), sa.Text)
    if isinstance(value, str):
        return sa.literal_column(f"'{value}'", sa.Text)  # fixed codes of this module only
    return sa.cast(value, sa.Text)


def _int(value) -> sa.ColumnElement:
    return sa.cast(sa.null(), sa.Integer) if value is None else value


class _Branch:
    """One source of a timeline: its columns, its conditions and its sort columns."""

    def __init__(self, src: str, *, at, id, kind, kinds: tuple[str, ...], ref=None, title=None,
                 actor=None, body=None, extra=None, num=None, amount=None, joins=(),
                 where=()):
        self.src, self.at_col, self.id_col, self.kinds = src, at, id, kinds
        self.kind_expr = _text(kind) if isinstance(kind, str) else kind
        self.columns = [at.label("at"), _text(src).label("src"), id.label("id"),
                        self.kind_expr.label("kind"), _text(ref).label("ref"),
                        _text(title).label("title"), _text(actor).label("actor"),
                        _text(body).label("body"), _text(extra).label("extra"),
                        _int(num).label("num"), _int(amount).label("amount")]
        self.joins, self.where = joins, list(where)

    def select(self, *, kinds: frozenset[str] | None, after_src: str | None):
        stmt = sa.select(*self.columns)
        for target, on, outer in self.joins:
            stmt = stmt.join(target, on, isouter=outer)
        stmt = stmt.where(*self.where)
        if kinds is not None and not set(self.kinds) <= kinds:
            stmt = stmt.where(self.kind_expr.in_(sorted(kinds & set(self.kinds))))
        if after_src is not None:
            stmt = stmt.where(_after(self, after_src))
        return stmt.order_by(self.at_col.desc(), self.id_col.desc()).limit(LIMIT)


def _after(branch: _Branch, after_src: str):
    """Return the condition for this branch's rows that come after the cursor, newest first,
    in the order (at, src, id) descending; src is the same on every row of a branch."""
    at, row_id = branch.at_col, branch.id_col
    if branch.src < after_src:
        return at <= AFTER_AT
    if branch.src == after_src:
        return sa.or_(at < AFTER_AT, sa.and_(at == AFTER_AT, row_id < AFTER_ID))
    return at < AFTER_AT


def _statement(branches: list[_Branch], *, kinds, after_src: str | None):
    wanted = None if not kinds else frozenset(kinds)
    chosen = [b for b in branches if wanted is None or wanted & set(b.kinds)]
    if not chosen:
        return None
    # Each branch is wrapped: SQLite takes no ORDER BY or LIMIT in a compound's members.
    parts = [sa.select(b.select(kinds=wanted, after_src=after_src).subquery())
             for b in chosen]
    union = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("timeline")
    return sa.select(*(union.c[name] for name in _COLUMNS)).order_by(
        union.c.at.desc(), union.c.src.desc(), union.c.id.desc()).limit(LIMIT)


def _run(session: Session, build, *, who: str, person_id: int, email: str | None, kinds,
         cursor: str | None, limit: int, case_condition, case_key: str | None) -> Page:
    after = Cursor.decode(cursor)
    limit = max(1, min(limit, PAGE_MAX))
    kinds = tuple(sorted(set(kinds or ())))
    if case_key is None and case_condition is not None:
        case_key = str(case_condition.compile(compile_kwargs={"literal_binds": True}))
    key = (who, kinds, after.src if after else None, email is not None, case_key,
           session.get_bind().dialect.name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        stmt = build(kinds=kinds, after_src=after.src if after else None,
                     with_email=email is not None, case_condition=case_condition,
                     dialect=key[-1])
        _STATEMENTS[key] = stmt = False if stmt is None else stmt
    if stmt is False:
        return Page([], None)
    params = {"person_id": person_id, "person_key": str(person_id), "email": email,
              "limit": limit + 1}
    if after is not None:
        params.update(after_at=after.at, after_id=after.id)
    rows = [Entry(*row) for row in session.execute(stmt, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return Page(rows, Cursor(last.at, last.src, last.id).encode() if last else None)


_EVENTS = AuditEvent.__table__.c


def _audit_columns(kind: str, kinds) -> dict:
    e = _EVENTS
    return {"at": e.at, "id": e.id, "kind": kind, "kinds": kinds, "ref": e.entity_id,
            "title": e.action, "actor": e.actor, "body": sa.cast(e.changes, sa.Text),
            "extra": e.note}


def _audit(src: str, kind: str, kinds, entity: str, condition) -> _Branch:
    return _Branch(src, **_audit_columns(kind, kinds),
                   where=(_EVENTS.entity == entity, condition(_EVENTS.entity_id)))


def _interactions(condition) -> _Branch:
    kind = sa.case((Interaction.kind == InteractionKind.NOTE, _text("note")),
                   else_=_text("call"))
    return _Branch("interaction", at=Interaction.at, id=Interaction.id, kind=kind,
                   kinds=("call", "note"), ref=Interaction.phone, title=Interaction.kind,
                   actor=StaffUser.name, body=Interaction.body, extra=Interaction.outcome,
                   num=Interaction.duration_s,
                   joins=((StaffUser, StaffUser.id == Interaction.staff_id, True),),
                   where=(condition,))


def _outbox(with_email: bool) -> list[_Branch]:
    if not with_email:
        return []
    o = OutboxMessage
    # A case's mails are its articles; the outbox adds every other mail (notices, dunning).
    return [_Branch("outbox", at=o.created_at, id=o.id, kind="mail", kinds=("mail",),
                    ref=o.to_address, title="outbox", body=o.subject, extra=o.template,
                    actor=sa.case((o.sent_at.is_(None), _text("pending")), else_=_text("sent")),
                    where=(o.to_address == EMAIL,
                                            sa.or_(o.entity.is_(None), o.entity != "case")))]


def _cases(owner_column: str, case_condition) -> list[_Branch]:
    models = optional_module("cases.models")
    if models is None:
        return []
    Case, Article, Category = models.Case, models.Article, models.CaseCategory
    owner = getattr(Case, owner_column) == PERSON
    visible = () if case_condition is None else (case_condition,)
    kind = sa.case((Category.code.in_(COMPLAINT_CATEGORIES), _text("complaint")),
                   else_=_text("case"))
    cases = _Branch("case", at=Case.created_at, id=Case.id, kind=kind,
                    kinds=("case", "complaint"), ref=sa.cast(Case.id, sa.Text),
                    title=Case.state, body=Case.subject, extra=Category.code,
                    joins=((Category, Category.id == Case.category_id, True),),
                    where=(owner, *visible))
    mail_kinds = (models.ArticleKind.MAIL_IN, models.ArticleKind.MAIL_OUT)
    akind = sa.case((Article.kind.in_(mail_kinds), _text("mail")), else_=_text("call"))
    articles = _Branch(
        "article", at=Article.created_at, id=Article.id, kind=akind, kinds=("mail", "call"),
        ref=sa.cast(Article.case_id, sa.Text), title=Article.kind, actor=Article.sender,
        body=sa.func.coalesce(Article.subject, sa.func.substr(Article.body, 1, 200)),
        extra=Article.call_outcome, num=Article.call_seconds,
        joins=((Case, Case.id == Article.case_id, False),),
        where=(owner, *visible, Article.kind.in_(
            [*mail_kinds, models.ArticleKind.CALL_IN, models.ArticleKind.CALL_OUT])))
    return [cases, articles]


def _surveys(column: str) -> list[_Branch]:
    models = optional_module("surveys.models")
    if models is None:
        return []
    s = models.Survey
    return [_Branch("survey", at=s.answered_at, id=s.id, kind="survey", kinds=("survey",),
                    ref=sa.cast(sa.func.coalesce(s.case_id, s.service_request_id), sa.Text),
                    title=s.subject, actor=s.concerned_name, body=s.comment, extra=s.reason,
                    num=s.score, where=(getattr(s, column) == PERSON,
                                        s.status == models.SurveyStatus.ANSWERED,
                                        s.answered_at.is_not(None)))]


def _incidents(*, of_client: bool) -> list[_Branch]:
    models = optional_module("vetting.models")
    if models is None:
        return []
    i = models.Incident
    if of_client:  # an incident names a client through its service
        joins = ((ServiceRequest, ServiceRequest.id == i.service_request_id, False),)
        condition = ServiceRequest.client_id == PERSON
    else:
        joins, condition = (), i.professional_id == PERSON
    return [_Branch("incident", at=i.created_at, id=i.id, kind="complaint",
                    kinds=("complaint",), ref=sa.cast(i.service_request_id, sa.Text),
                    title=i.kind, actor=Professional.name, body=i.note,
                    joins=(*joins, (Professional, Professional.id == i.professional_id, False)),
                    where=(condition,))]


class _BookingAudit(_Branch):
    """The audit rows of a client's bookings. On PostgreSQL each booking's newest rows are read
    through the bookings' own index (entity_id, at, id) in a LATERAL join: a few hundred index
    probes, where a join on the whole trail would hash millions of rows. SQLite reads them through
    the same index with IN (its planner walks the subquery's ids)."""

    def __init__(self, dialect: str):
        self.lateral = dialect == "postgresql"
        super().__init__("audit_booking", **_audit_columns("booking", ("booking",)),
                         where=(_EVENTS.entity == "service_request", _EVENTS.entity_id.in_(
                             sa.select(sa.cast(ServiceRequest.id, sa.String))
                             .where(ServiceRequest.client_id == PERSON).scalar_subquery())))

    def select(self, *, kinds, after_src):
        if not self.lateral:
            return super().select(kinds=kinds, after_src=after_src)
        booking = ServiceRequest.__table__.alias("booking")
        # Keys first, index-only: the newest (at, id) of each booking; then the whole rows
        # of the page's few.
        # Written as the partial index ix_audit_event_booking_trail (0019) is: a literal entity
        # (a prepared statement's parameter would not prove its condition) and the id compared
        # bytewise.
        keys = sa.select(_EVENTS.at, _EVENTS.id).where(
            _EVENTS.entity == sa.literal_column("'service_request'"),
            _EVENTS.entity_id.collate("C") == sa.cast(booking.c.id, sa.String))
        if after_src is not None:
            keys = keys.where(_after(self, after_src))
        keys = keys.order_by(_EVENTS.at.desc(), _EVENTS.id.desc()).limit(LIMIT).lateral()
        top = (sa.select(keys.c.id).select_from(booking).join(keys, sa.true())
               .where(booking.c.client_id == PERSON)
               .order_by(keys.c.at.desc(), keys.c.id.desc()).limit(LIMIT).subquery())
        return (sa.select(*self.columns).join_from(AuditEvent.__table__, top,
                                                   top.c.id == _EVENTS.id)
                .order_by(_EVENTS.at.desc(), _EVENTS.id.desc()).limit(LIMIT))


def _client_branches(*, kinds, after_src, with_email: bool, case_condition, dialect: str):
    branches = [
        _interactions(Interaction.client_id == PERSON),
        _audit("audit_client", "change", ("change",), "client", lambda c: c == PERSON_KEY),
        *_outbox(with_email),
        *_cases("client_id", case_condition),
        *_surveys("client_id"),
        *_incidents(of_client=True),
        _BookingAudit(dialect),
    ]
    billing = optional_module("billing.models")
    if billing is not None:
        inv = billing.Invoice
        branches.append(_Branch(
            "invoice", at=inv.created_at, id=inv.id, kind="invoice", kinds=("invoice",),
            ref=inv.series, title=inv.status, num=inv.number, amount=inv.total_cents,
            where=(inv.client_id == PERSON,)))
    return _statement(branches, kinds=kinds, after_src=after_src)


def _professional_branches(*, kinds, after_src, with_email: bool, case_condition,
                           dialect: str):
    branches = [
        _interactions(Interaction.professional_id == PERSON),
        _audit("audit_professional", "change", ("change",), "professional",
               lambda c: c == PERSON_KEY),
        *_outbox(with_email),
        *_cases("professional_id", case_condition),
        *_surveys("concerned_professional_id"),
        *_incidents(of_client=False),
    ]
    vetting = optional_module("vetting.models")
    if vetting is not None:
        visit, application = vetting.StageVisit, vetting.Application
        branches.append(_Branch(
            "vetting", at=visit.entered_at, id=visit.id, kind="vetting", kinds=("vetting",),
            ref=sa.cast(visit.application_id, sa.Text), title=visit.stage, actor=visit.actor,
            body=visit.note,
            joins=((application, application.id == visit.application_id, False),),
            where=(application.professional_id == PERSON,)))
    return _statement(branches, kinds=kinds, after_src=after_src)


def client_timeline(session: Session, *, client_id: int, email: str | None,
                    kinds=None, cursor: str | None = None, limit: int = PAGE_SIZE,
                    case_condition=None, case_key: str | None = None) -> Page:
    """Return a page of a client's timeline, newest first.

    kinds: the kinds to show (CLIENT_KINDS; None or empty: all). cursor: the next_cursor of
    the page before. case_condition: the SQL condition on Case selecting the cases the reader
    may read (None: all); case_key: its SQL text when the caller has it (the statement's key).
    """
    return _run(session, _client_branches, who="client", person_id=client_id, email=email,
                kinds=kinds, cursor=cursor, limit=limit, case_condition=case_condition,
                case_key=case_key)


def professional_timeline(session: Session, *, professional_id: int, email: str | None,
                          kinds=None, cursor: str | None = None, limit: int = PAGE_SIZE,
                          case_condition=None, case_key: str | None = None) -> Page:
    """Return a page of a professional's timeline, newest first (see client_timeline)."""
    return _run(session, _professional_branches, who="professional",
                person_id=professional_id, email=email, kinds=kinds, cursor=cursor,
                limit=limit, case_condition=case_condition, case_key=case_key)
