"""Open a case, add to its conversation, assign it, link it, merge it: the desk's one door.

Services flush; the boundary (a panel view, a CLI command, a job) commits.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import AuditEvent, Client, Professional, StaffUser
from backoffice.phones import normalise as normalise_phone
from cases import deadlines, workflow
from cases.models import (
    Article,
    ArticleKind,
    Case,
    CaseCategory,
    CaseChannel,
    CaseLink,
    CasePriority,
    CaseState,
    CaseStateVisit,
    CaseTag,
    Contact,
)

S = CaseState
INBOUND = (ArticleKind.MAIL_IN, ArticleKind.CALL_IN)
OUTBOUND = (ArticleKind.MAIL_OUT, ArticleKind.CALL_OUT)
LINKABLE = ("service_request", "professional", "invoice", "client", "case")
MAX_TAG = 40
DEFAULT_CAP = 25  # open cases an agent is offered at most (config CASES_MAX_OPEN_PER_AGENT)


def find_person(session: Session, *, email: str | None = None, phone: str | None = None
                ) -> list[Client | Professional]:
    """Return the clients and professionals with this email or phone (any format), best first."""
    email = (email or "").strip().lower() or None
    e164 = normalise_phone(phone) if phone else None
    found: list = []
    for model in (Client, Professional):
        conditions = []
        if email:
            conditions.append(sa.func.lower(model.email) == email)
        if e164:
            conditions.append(model.phone_e164 == e164)
        if conditions:
            found.extend(session.scalars(sa.select(model).where(sa.or_(*conditions))
                                         .order_by(model.id).limit(10)))
    return found


def contact_for(session: Session, *, email: str | None = None, phone: str | None = None,
                name: str | None = None, flush: bool = True) -> Contact:
    """Return the contact kept for this unknown address or number, creating it once.

    flush=False leaves a new contact pending for the caller's next flush."""
    email = (email or "").strip().lower() or None
    e164 = normalise_phone(phone) if phone else None
    if not email and not e164:
        raise Refusal("requester: give an email address or a phone number")
    column, value = (Contact.email, email) if email else (Contact.phone, e164)
    contact = session.scalar(sa.select(Contact).where(column == value).order_by(Contact.id)
                             .limit(1))
    return contact if contact is not None else _new_contact(session, email, e164, name, flush)


def _new_contact(session: Session, email: str | None, e164: str | None, name: str | None,
                 flush: bool) -> Contact:
    contact = Contact(email=email, phone=e164, name=(name or "").strip()[:120] or None)
    session.add(contact)
    if flush:
        session.flush()
    return contact


def _who(model, kind: str):
    return sa.select(sa.literal(kind, sa.String).label("kind"), model.id).where(sa.or_(
        sa.func.lower(model.email) == sa.bindparam("email", type_=sa.String),
        model.phone_e164 == sa.bindparam("e164", type_=sa.String)))


# One round trip for a sender: the clients and professionals with the address or number, and
# the first contact kept for it (by address when there is one, else by number). Built once.
_REQUESTERS = {
    by_email: sa.union_all(
        _who(Client, "client"), _who(Professional, "professional"),
        sa.select(sa.literal("contact", sa.String), sa.func.min(Contact.id)).where(
            (Contact.email == sa.bindparam("email", type_=sa.String)) if by_email
            else (Contact.phone == sa.bindparam("e164", type_=sa.String))))
    for by_email in (True, False)
}


def requester_for(session: Session, *, email: str | None = None, phone: str | None = None,
                  name: str | None = None, flush: bool = True):
    """Return the one client or professional with this address or number, else a contact.

    flush=False leaves a new contact pending for the caller's next flush."""
    email = (email or "").strip().lower() or None
    e164 = normalise_phone(phone) if phone else None
    if not email and not e164:
        raise Refusal("requester: give an email address or a phone number")
    found: dict[str, list[int]] = {}
    for kind, key in session.execute(_REQUESTERS[email is not None],
                                     {"email": email, "e164": e164}):
        if key is not None:
            found.setdefault(kind, []).append(key)
    people = [(Client, k) for k in found.get("client", ())] + [
        (Professional, k) for k in found.get("professional", ())]
    if len(people) == 1:
        return session.get(*people[0])
    if found.get("contact"):
        return session.get(Contact, found["contact"][0])
    return _new_contact(session, email, e164, name, flush)


def _set_requester(case: Case, requester) -> None:
    case.client_id = case.professional_id = None
    if isinstance(requester, Client):
        case.client = requester
    elif isinstance(requester, Professional):
        case.professional = requester
    elif isinstance(requester, Contact):
        case.contact = requester
    elif requester is not None:
        raise Refusal("requester: a case's requester is a client, a professional or a contact")
    language = getattr(requester, "language", None)
    if language:
        case.language = "en" if language == "en" else "es"


def open_case(session: Session, *, subject: str, channel: CaseChannel | str, requester=None,
              priority: CasePriority | str = CasePriority.NORMAL,
              category: CaseCategory | None = None, language: str | None = None,
              assignee: StaffUser | None = None, team: str = "ops_agent",
              level1_agent: str | None = None, tags: list[str] | None = None,
              offer: bool = True, cap: int = DEFAULT_CAP, now: datetime | None = None,
              flush: bool = True) -> Case:
    """Open a new case; unassigned ones are offered round-robin to the ops agents (offer).

    flush=False leaves the case pending for the caller's next flush (no tags then): a mail's
    case, first article and acknowledgement are then written in one go."""
    now = now or utcnow()
    subject = " ".join((subject or "").split())[:255]
    if not subject:
        raise Refusal("subject: say what the case is about")
    try:
        channel, priority = CaseChannel(channel), CasePriority(priority)
    except ValueError as exc:
        raise Refusal("channel: unknown channel or priority %(value)s", value=str(exc)) from None
    if channel == CaseChannel.ESCALATION and not (level1_agent or "").strip():
        raise Refusal("level1_agent: name the call-center agent who escalated the case")
    case = Case(subject=subject, channel=channel, priority=priority, category=category,
                category_id=category.id if category is not None else None,
                team=(category.team if category is not None and category.team else team),
                level1_agent=(level1_agent or "").strip() or None, created_at=now,
                updated_at=now, state=S.NEW, state_entered_at=now, language="es")
    _set_requester(case, requester)
    if language in ("es", "en"):
        case.language = language
    case.visits.append(CaseStateVisit(state=S.NEW, entered_at=now,
                                      actor=audit.current_actor().label))
    # Assignee and clocks are set before the one insert: a new case is written once.
    if assignee is None and offer:
        assignee = next_agent(session, cap=cap)
    if assignee is not None:
        _check_assignee(assignee, case)
        case.assignee, case.assigned_at = assignee, now
    deadlines.apply(session, case=case, now=now)
    session.add(case)
    if flush:
        session.flush()
    if tags:
        set_tags(session, case=case, names=tags)
    return case


def add_article(session: Session, *, case: Case, kind: ArticleKind | str, body: str = "",
                public: bool = True, user: StaffUser | None = None, now: datetime | None = None,
                flush: bool = True, **fields) -> Article:
    """Add one interaction to a case and move its clocks: only a public reply is a response.

    An inbound message on a solved case reopens it; a closed or merged case takes no more
    (the caller opens a follow-up instead: follow_up). flush=False leaves the article pending
    and unrecorded: the caller flushes, then records it (record_articles, article_audit)."""
    now = now or utcnow()
    kind = ArticleKind(kind)
    if case.state in workflow.FINAL:
        raise Refusal("state: a %(state)s case takes no more messages; open a follow-up",
                      state=CaseState(case.state))
    if kind == ArticleKind.NOTE:
        public = False
    article = Article(case=case, kind=kind, public=public, body=body or "", created_at=now,
                      author=user, **fields)
    session.add(article)
    clocks = (case.awaiting_since, case.first_response_at)
    if kind in INBOUND:
        if case.awaiting_since is None:
            case.awaiting_since = now
        if case.state == S.SOLVED:
            workflow.transition(session, case=case, to=S.OPEN, note="reply", now=now)
        elif case.state in workflow.PAUSED and kind == ArticleKind.MAIL_IN:
            workflow.transition(session, case=case, to=S.OPEN, note="reply", now=now)
    elif kind in OUTBOUND and public and user is not None:
        case.first_response_at = case.first_response_at or now
        case.last_response_at = now
        case.awaiting_since = None
        if case.state == S.NEW:
            workflow.transition(session, case=case, to=S.OPEN, user=user, now=now)
    case.updated_at = now
    # A note or the desk's own automatic mail leaves the clocks where they are (a transition
    # stores them itself): the due times are recomputed only when what they depend on moved.
    if (case.awaiting_since, case.first_response_at) != clocks:
        deadlines.apply(session, case=case, now=now)
    if flush:
        session.flush()
        record_articles(session, [article_audit(article)])
    return article


def add_desk_mail(session: Session, *, case: Case, now: datetime, audit_rows: list[dict],
                  **fields) -> int:
    """Add the desk's automatic mail to a flushed case's conversation; return the article's id.

    No author: not a response, the clocks stay. One INSERT instead of a flush of the unit of
    work (the article is not loaded into the session); its audit row goes to audit_rows for
    the caller's record_articles."""
    if case.state in workflow.FINAL:
        raise Refusal("state: a %(state)s case takes no more messages; open a follow-up",
                      state=CaseState(case.state))
    if case.updated_at != now:
        case.updated_at = now
    article_id = session.execute(_DESK_MAIL, {
        "case_id": case.id, "kind": ArticleKind.MAIL_OUT, "public": True, "created_at": now,
        "author_id": None, **fields}).scalar_one()
    audit_rows.append(_article_row(case.id, ArticleKind.MAIL_OUT, True, article_id))
    return article_id


_DESK_MAIL = sa.insert(Article.__table__).returning(Article.__table__.c.id)


def article_audit(article: Article) -> dict:
    """Return the audit row of a flushed article."""
    return _article_row(article.case_id, article.kind, article.public, article.id)


def _article_row(case_id: int, kind: ArticleKind, public: bool, article_id: int) -> dict:
    return audit.row("article", "case", case_id,
                     {"kind": [None, ArticleKind(kind).value], "public": [None, public],
                      "article": [None, article_id]})


def record_articles(session: Session, rows: list[dict]) -> None:
    """Write the audit rows of articles (article_audit, add_desk_mail), in one statement."""
    if rows:
        session.connection().execute(sa.insert(AuditEvent.__table__), rows)


def follow_up(session: Session, *, closed: Case, subject: str | None = None,
              channel: CaseChannel | str = CaseChannel.MAIL, now: datetime | None = None) -> Case:
    """Open a new case that follows a closed one, same requester, linked both ways."""
    new = open_case(session, subject=subject or closed.subject, channel=channel,
                    requester=closed.requester, priority=closed.priority,
                    category=closed.category, language=closed.language, now=now)
    new.follows_id = closed.id
    link(session, case=new, entity="case", entity_id=closed.id)
    return new


def assign(session: Session, *, case: Case, assignee: StaffUser | None,
           now: datetime | None = None) -> Case:
    """Give the case to an agent (or to nobody); the agent must be able to work it."""
    if assignee is not None:
        _check_assignee(assignee, case)
    case.assignee = assignee
    case.assigned_at = (now or utcnow()) if assignee is not None else None
    session.flush()
    return case


def _check_assignee(assignee: StaffUser, case: Case) -> None:
    if not (assignee.active and can_work(assignee, case)):
        raise Refusal("assignee: %(name)s cannot work this case", name=assignee.name)


def take(session: Session, *, case: Case, user: StaffUser, now: datetime | None = None) -> Case:
    """Give the case to the agent who asks for it."""
    if case.state in workflow.FINAL:
        raise Refusal("state: a %(state)s case cannot be taken", state=CaseState(case.state))
    return assign(session, case=case, assignee=user, now=now)


def open_counts(session: Session) -> dict[int, int]:
    """Return each agent's number of active cases."""
    rows = session.execute(sa.select(Case.assignee_id, sa.func.count())
                           .where(Case.state.in_(workflow.ACTIVE), Case.assignee_id.is_not(None))
                           .group_by(Case.assignee_id))
    return dict(rows.all())


def _next_agents() -> sa.Select:
    active = sa.select(sa.func.count()).where(
        Case.assignee_id == StaffUser.id, Case.state.in_(workflow.ACTIVE)).scalar_subquery()
    last = sa.select(sa.func.max(Case.assigned_at)).where(
        Case.assignee_id == StaffUser.id).scalar_subquery()
    # roles is a short comma-separated list; next_agent's check makes the match exact.
    return (sa.select(StaffUser)
            .where(StaffUser.active.is_(True), StaffUser.roles.contains("ops_agent"),
                   active < sa.bindparam("cap", type_=sa.Integer))
            .order_by(last.is_not(None), last, StaffUser.id))


_NEXT_AGENTS = _next_agents()  # built once: a mail fetch asks for every new case


def next_agent(session: Session, *, cap: int = DEFAULT_CAP) -> StaffUser | None:
    """Return the active ops agent under the cap who was offered a case longest ago."""
    agents = session.scalars(_NEXT_AGENTS, {"cap": cap})
    return next((u for u in agents if u.has_role("ops_agent")), None)


def offer_round_robin(session: Session, *, case: Case, cap: int = DEFAULT_CAP,
                      now: datetime | None = None) -> StaffUser | None:
    """Give a case to the next agent round-robin (next_agent); None when all are at the cap."""
    agent = next_agent(session, cap=cap)
    if agent is not None:
        assign(session, case=case, assignee=agent, now=now)
    return agent


def set_tags(session: Session, *, case: Case, names: list[str]) -> Case:
    """Replace a case's tags with names (trimmed, lower case, no duplicates)."""
    wanted = []
    for name in names:
        name = " ".join(name.split()).lower()
        if not name:
            continue
        if len(name) > MAX_TAG:
            raise Refusal("tags: a tag has at most %(n)d characters", n=MAX_TAG)
        if name not in wanted:
            wanted.append(name)
    before = case.tag_names
    case.tags = [t for t in case.tags if t.name in wanted] + [
        CaseTag(name=n) for n in wanted if n not in before]
    if sorted(before) != sorted(wanted):
        session.flush()
        audit.record(session, action="tags", entity="case", entity_id=case.id,
                     changes={"tags": [before, wanted]})
    return case


def tag_suggestions(session: Session, *, prefix: str, limit: int = 10) -> list[str]:
    """Return the most used tags that start with prefix."""
    prefix = prefix.strip().lower()
    return list(session.scalars(
        sa.select(CaseTag.name).where(CaseTag.name.startswith(prefix, autoescape=True))
        .group_by(CaseTag.name).order_by(sa.func.count().desc(), CaseTag.name).limit(limit)))


def update(session: Session, *, case: Case, priority: str | None = None,
           category: CaseCategory | None = None, subject: str | None = None,
           now: datetime | None = None) -> Case:
    """Change a case's priority, category or subject; the SLA follows the priority."""
    if case.state in workflow.FINAL:
        raise Refusal("state: a %(state)s case cannot be changed", state=CaseState(case.state))
    if priority is not None:
        try:
            case.priority = CasePriority(priority)
        except ValueError:
            raise Refusal("priority: unknown priority %(value)s", value=priority) from None
    if category is not None:
        case.category = category
        if category.team:
            case.team = category.team
    if subject is not None:
        subject = " ".join(subject.split())[:255]
        if not subject:
            raise Refusal("subject: say what the case is about")
        case.subject = subject
    case.updated_at = now or utcnow()
    session.flush()
    deadlines.apply(session, case=case, now=case.updated_at)
    return case


def set_requester(session: Session, *, case: Case, requester) -> Case:
    """Link a case (and its contact's other open cases) to the client or professional it is."""
    contact = case.contact
    _set_requester(case, requester)
    case.contact = contact  # the address it came from stays on record
    session.flush()
    return case


def link(session: Session, *, case: Case, entity: str, entity_id) -> CaseLink:
    """Point a case at a record (a booking, a professional, an invoice, a client, a case)."""
    if entity not in LINKABLE:
        raise Refusal("entity: a case links to %(kinds)s", kinds=", ".join(LINKABLE))
    key = str(entity_id).strip()
    if not key.isdigit():
        raise Refusal("entity_id: give the record's number")
    if entity == "case" and int(key) == case.id:
        raise Refusal("entity_id: a case cannot link to itself")
    if not _exists(session, entity, int(key)):
        raise Refusal("entity_id: there is no %(entity)s %(id)s", entity=entity, id=key)
    existing = session.scalar(sa.select(CaseLink).where(
        CaseLink.case_id == case.id, CaseLink.entity == entity, CaseLink.entity_id == key))
    if existing is not None:
        return existing
    row = CaseLink(case_id=case.id, entity=entity, entity_id=key)
    session.add(row)
    session.flush()
    audit.record(session, action="link", entity="case", entity_id=case.id,
                 changes={entity: [None, key]})
    return row


def unlink(session: Session, *, case: Case, entity: str, entity_id) -> None:
    """Remove a case's link to a record."""
    row = session.scalar(sa.select(CaseLink).where(
        CaseLink.case_id == case.id, CaseLink.entity == entity,
        CaseLink.entity_id == str(entity_id)))
    if row is not None:
        session.delete(row)
        session.flush()
        audit.record(session, action="unlink", entity="case", entity_id=case.id,
                     changes={entity: [str(entity_id), None]})


def _exists(session: Session, entity: str, entity_id: int) -> bool:
    table = {"service_request": "service_request", "professional": "professional",
             "invoice": "billing_invoice", "client": "client", "case": "case"}[entity]
    return session.execute(sa.text(f'SELECT 1 FROM "{table}" WHERE id = :i'),
                           {"i": entity_id}).first() is not None


def links_of(session: Session, case: Case) -> list[CaseLink]:
    """Return the records a case points at, and the cases that point at it."""
    return list(session.scalars(sa.select(CaseLink).where(CaseLink.case_id == case.id)
                                .order_by(CaseLink.entity, CaseLink.id)))


def cases_of(session: Session, *, entity: str, entity_id) -> list[Case]:
    """Return the cases about a record: linked to it, or (client, professional) asked by it."""
    linked = sa.select(CaseLink.case_id).where(CaseLink.entity == entity,
                                               CaseLink.entity_id == str(entity_id))
    condition = Case.id.in_(linked)
    if entity == "client":
        condition = sa.or_(condition, Case.client_id == int(entity_id))
    elif entity == "professional":
        condition = sa.or_(condition, Case.professional_id == int(entity_id))
    return list(session.scalars(sa.select(Case).where(condition).order_by(Case.id.desc())
                                .limit(100)))


def merge(session: Session, *, source: Case, target: Case, user: StaffUser | None = None,
          now: datetime | None = None) -> Case:
    """Merge source into target (same requester): its articles, tags and links move over."""
    now = now or utcnow()
    if source.id == target.id:
        raise Refusal("target: a case cannot be merged into itself")
    if target.state in workflow.FINAL:
        raise Refusal("target: %(number)s is %(state)s; merge into an active case",
                      number=target.number, state=CaseState(target.state))
    same = ((source.client_id, source.professional_id, source.contact_id if not
             (source.client_id or source.professional_id) else None) ==
            (target.client_id, target.professional_id, target.contact_id if not
             (target.client_id or target.professional_id) else None))
    if not same:
        raise Refusal("target: only cases of the same requester are merged; link them instead")
    moved = session.execute(sa.update(Article).where(Article.case_id == source.id)
                            .values(case_id=target.id)).rowcount
    for row in links_of(session, source):
        if row.entity == "case" and row.entity_id == str(target.id):
            session.delete(row)
            continue
        exists = session.scalar(sa.select(CaseLink.id).where(
            CaseLink.case_id == target.id, CaseLink.entity == row.entity,
            CaseLink.entity_id == row.entity_id))
        if exists:
            session.delete(row)
        else:
            row.case_id = target.id
    set_tags(session, case=target, names=target.tag_names + source.tag_names)
    session.expire(target, ["articles"])
    session.expire(source, ["articles"])
    workflow.transition(session, case=source, to=S.MERGED, merged_into=target, user=user,
                        now=now)
    if source.awaiting_since and (target.awaiting_since is None
                                  or source.awaiting_since < target.awaiting_since):
        target.awaiting_since = source.awaiting_since
    target.updated_at = now
    session.flush()
    deadlines.apply(session, case=target, now=now)
    audit.record(session, action="merge", entity="case", entity_id=target.id,
                 changes={"merged": [None, source.number], "articles": [None, moved]})
    return target


def can_work(user: StaffUser, case: Case) -> bool:
    """Ops and admin work every case; finance billing ones; vetting those about professionals."""
    if user.has_role("ops_agent", "admin"):
        return True
    if user.has_role("finance") and case.team == "finance":
        return True
    if not user.has_role("vetting"):
        return False
    if case.professional_id is not None:
        return True
    session = sa.inspect(case).session
    return session is not None and session.scalar(sa.select(CaseLink.id).where(
        CaseLink.case_id == case.id, CaseLink.entity == "professional").limit(1)) is not None


def visible_filter(user: StaffUser):
    """Return the SQL condition on Case that selects the cases user may read."""
    if user.has_role("ops_agent", "admin"):
        return sa.true()
    conditions = []
    if user.has_role("finance"):
        conditions.append(Case.team == "finance")
    if user.has_role("vetting"):
        conditions.append(Case.professional_id.is_not(None))
        conditions.append(Case.id.in_(sa.select(CaseLink.case_id)
                                      .where(CaseLink.entity == "professional")))
    return sa.or_(*conditions) if conditions else sa.false()
