"""The case queue's query: tabs, filters and search as SQL conditions, a page read as plain rows.

Fast on a million cases: the page's ids are picked first on indexed columns (the primary key,
or (state, next_due_at) for the due tab) with a bounded OFFSET, then their columns and names
are read in one statement; the count stops at COUNT_CAP.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backoffice.admin.fastlist.counts import COUNT_CAP, ShownCount, table_estimate
from backoffice.admin.urls import parse_id
from backoffice.models import Client, Professional, StaffUser
from backoffice.phones import normalise as normalise_phone
from cases import service, workflow
from cases.display import parse_number
from cases.models import Case, CaseCategory, CaseChannel, CasePriority, CaseState, CaseTag, Contact

TABS = ("mine", "unassigned", "team", "due", "all")
PAGE_SIZE = 25
MAX_PAGE = 4000  # OFFSET 100,000 at most: deeper, narrow the filter
PEOPLE_MAX = 2000
FILTERED_CAP = 500  # "500+": the pages say the rest
FILTERS = ("q", "state", "priority", "category", "channel", "assignee", "tag", "breached",
           "search_in")


@dataclass
class Query:
    """A queue's arguments, read from the URL; what is not understood is left out."""

    tab: str = "mine"
    q: str = ""
    state: str | None = None
    priority: str | None = None
    category: int | None = None
    channel: str | None = None
    assignee: str | None = None  # "me", "none" or a staff id
    tag: str | None = None
    breached: bool = False
    search_in: str | None = None  # "subject": search subjects even when people match
    page: int = 1
    notes: list = field(default_factory=list)

    def args(self, **override) -> dict:
        """Return the URL arguments of this query (changed by override), empty ones left out."""
        values = {"tab": self.tab, "q": self.q or None, "state": self.state,
                  "priority": self.priority, "category": self.category,
                  "channel": self.channel, "assignee": self.assignee, "tag": self.tag,
                  "breached": "1" if self.breached else None, "search_in": self.search_in,
                  "page": self.page if self.page > 1 else None}
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def filtered(self) -> bool:
        return any((self.q, self.state, self.priority, self.category, self.channel,
                    self.assignee, self.tag, self.breached))


def _one_of(value: str | None, allowed) -> str | None:
    return value if value in allowed else None


def parse(args) -> Query:
    """Return the query an address asks for; hostile or stale values are dropped."""
    page = parse_id(args.get("page")) or 1
    assignee = args.get("assignee") or None
    if assignee not in (None, "me", "none") and parse_id(assignee) is None:
        assignee = None
    tag = " ".join((args.get("tag") or "").split()).lower()[:service.MAX_TAG] or None
    return Query(
        tab=_one_of(args.get("tab"), TABS) or "mine",
        q=" ".join((args.get("q") or "").split())[:200],
        state=_one_of(args.get("state"), {s.value for s in CaseState}),
        priority=_one_of(args.get("priority"), {p.value for p in CasePriority}),
        category=parse_id(args.get("category")),
        channel=_one_of(args.get("channel"), {c.value for c in CaseChannel}),
        assignee=assignee, tag=tag, breached=args.get("breached") == "1",
        search_in=_one_of(args.get("search_in"), {"subject"}), page=min(page, MAX_PAGE))


def _team(user: StaffUser):
    if user.has_role("admin"):
        return sa.true()
    conditions = []
    if user.has_role("ops_agent"):
        conditions.append(Case.team == "ops_agent")
    if user.has_role("finance"):
        conditions.append(Case.team == "finance")
    if user.has_role("vetting"):
        conditions.append(sa.true())  # their cases: those visible_filter lets them read
    return sa.or_(*conditions) if conditions else sa.false()


def _ids(session: Session, column, ids: list[int]):
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: a long IN list is rendered and parsed value by value.
        return column == sa.any_(sa.bindparam(f"ids_{column.key}", ids, type_=ARRAY(sa.Integer)))
    return column.in_(ids)


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _people(session: Session, text: str) -> dict[str, list[int]]:
    """Return the ids of clients, professionals and contacts named, written or called so (one
    statement: each kind's first PEOPLE_MAX)."""
    email = text.lower() if "@" in text else None
    digits = sum(c.isdigit() for c in text)
    phone = normalise_phone(text) if digits >= 6 and digits >= len(text) // 2 else None
    parts = []
    for key, model in (("client", Client), ("professional", Professional), ("contact", Contact)):
        table = model.__table__
        if email:
            condition = table.c.email == email
        elif phone:
            condition = (table.c.phone if model is Contact else table.c.phone_e164) == phone
        else:
            condition = sa.and_(*(table.c.name.ilike(f"%{_escape(w)}%", escape="\\")
                                  for w in text.split()))
        found = sa.select(table.c.id).where(condition).limit(PEOPLE_MAX).subquery()
        parts.append(sa.select(sa.literal(key).label("kind"), found.c.id))
    people: dict[str, list[int]] = {}
    for kind, person_id in session.execute(sa.union_all(*parts)):
        people.setdefault(kind, []).append(person_id)
    return people


def conditions(session: Session, user: StaffUser, query: Query) -> list:
    """Return the SQL conditions on Case that the tab, the filters and the search ask for."""
    where = [service.visible_filter(user)]
    if query.state:
        where.append(Case.state == query.state)
    elif query.tab != "all":
        where.append(Case.state.in_(workflow.ACTIVE))
    if query.tab == "mine":
        where.append(Case.assignee_id == user.id)
    elif query.tab == "unassigned":
        where.append(Case.assignee_id.is_(None))
    elif query.tab == "team":
        where.append(_team(user))
    elif query.tab == "due":
        where.append(Case.next_due_at.is_not(None))
    for column, value in ((Case.priority, query.priority), (Case.channel, query.channel),
                          (Case.category_id, query.category)):
        if value is not None:
            where.append(column == value)
    if query.assignee == "me":
        where.append(Case.assignee_id == user.id)
    elif query.assignee == "none":
        where.append(Case.assignee_id.is_(None))
    elif query.assignee:
        where.append(Case.assignee_id == int(query.assignee))
    if query.tag:
        where.append(Case.id.in_(sa.select(CaseTag.case_id).where(CaseTag.name == query.tag)))
    if query.breached:
        where.append(Case.sla_breached != "")
    if query.q:
        where.append(_search(session, query))
    return where


def _search(session: Session, query: Query):
    number = parse_number(query.q)
    marked = query.q.strip().lower().startswith(("c", "#"))
    # A bare short number is a case's number when there is such a case; otherwise it is text
    # (a subject with a number in it, the start of a phone).
    if number is not None and (marked or (len(query.q.strip()) < 7 and session.scalar(
            sa.select(Case.id).where(Case.id == number)) is not None)):
        return Case.id == number
    subject = Case.subject.ilike(f"%{_escape(query.q)}%", escape="\\")
    if query.search_in == "subject":
        return subject
    people = _people(session, query.q)
    if not people:
        return subject
    query.notes.append(("people", sum(len(v) for v in people.values())))
    columns = {"client": Case.client_id, "professional": Case.professional_id,
               "contact": Case.contact_id}
    return sa.or_(*(_ids(session, columns[k], ids) for k, ids in people.items()))


def _order(query: Query) -> list:
    if query.tab == "due":
        return [Case.next_due_at.asc(), Case.id.asc()]
    return [Case.id.desc()]


# The page's columns and joins, built once: each page joins them to its ids' subquery.
_case = Case.__table__
_assignee = StaffUser.__table__.alias("assignee")
_client = Client.__table__.alias("requester_client")
_pro = Professional.__table__.alias("requester_pro")
_contact = Contact.__table__.alias("requester_contact")
ROW_COLUMNS = (_case.c.id, _case.c.subject, _case.c.state, _case.c.priority,
               _case.c.category_id, _case.c.channel, _assignee.c.name.label("assignee"),
               _case.c.client_id, _case.c.professional_id, _case.c.contact_id,
               _client.c.name.label("client_name"), _pro.c.name.label("pro_name"),
               _contact.c.name.label("contact_name"), _contact.c.email, _contact.c.phone,
               _case.c.next_due_at, _case.c.sla_warned, _case.c.sla_breached,
               _case.c.updated_at)
_ROWS = sa.select(*ROW_COLUMNS)


def page(session: Session, user: StaffUser, query: Query, *, size: int = PAGE_SIZE
         ) -> tuple[list, bool, ShownCount]:
    """Return the page's rows (ROW_COLUMNS, then the capped count when it is counted),
    whether a next page exists, and the count."""
    where = conditions(session, user, query)
    filtered = query.filtered or query.tab != "all"
    shown = None if filtered else _estimate(session)
    cap = FILTERED_CAP if filtered else COUNT_CAP
    ids = _page_ids(where, query, size)
    tables = (ids.join(_case, _case.c.id == ids.c.id)
              .outerjoin(_assignee, _assignee.c.id == _case.c.assignee_id)
              .outerjoin(_client, _client.c.id == _case.c.client_id)
              .outerjoin(_pro, _pro.c.id == _case.c.professional_id)
              .outerjoin(_contact, _contact.c.id == _case.c.contact_id))
    stmt = _ROWS.select_from(tables).order_by(
        *([ids.c.next_due_at, ids.c.id] if query.tab == "due" else [ids.c.id.desc()]))
    if shown is None:  # the count rides with the rows: one round trip
        stmt = stmt.add_columns(_capped(where, cap).label("n"))
    rows = session.execute(stmt).all()
    more = len(rows) > size
    if shown is None:
        n = rows[0][-1] if rows else (_count(session, where, cap) if query.page > 1 else 0)
        shown = ShownCount(cap, capped=True) if n > cap else ShownCount(n)
    return rows[:size], more, shown


def _page_ids(where: list, query: Query, size: int):
    """Return the subquery of the page's ids, in the queue's order."""
    offset = (query.page - 1) * size
    if query.tab != "due" or query.state:
        return (sa.select(Case.id, Case.next_due_at).where(*where).order_by(*_order(query))
                .limit(size + 1).offset(offset).subquery())
    # Due soon over several states: (state, next_due_at) is ordered within one state only, so
    # each state's earliest are read from the index and merged, instead of sorting them all.
    parts = [sa.select(Case.id, Case.next_due_at).where(*where, Case.state == state)
             .order_by(Case.next_due_at, Case.id).limit(offset + size + 1).subquery()
             for state in workflow.ACTIVE]
    # Each part is wrapped as its own FROM: SQLite takes no ORDER BY or LIMIT inside a UNION.
    merged = sa.union_all(*(sa.select(p.c.id, p.c.next_due_at) for p in parts)).subquery()
    return (sa.select(merged.c.id, merged.c.next_due_at)
            .order_by(merged.c.next_due_at, merged.c.id).limit(size + 1).offset(offset)
            .subquery())


def _estimate(session: Session) -> ShownCount | None:
    """Return the table's estimate when it is large: nothing filtered, nothing to count."""
    estimate = table_estimate(session, "case")
    if estimate is not None and estimate > COUNT_CAP:
        return ShownCount(estimate, approximate=True)
    return None


def _capped(where: list, cap: int):
    """Return how many cases match, counted up to cap + 1, as a scalar subquery.

    The cap is FILTERED_CAP when a filter may make PostgreSQL read many rows per match."""
    capped = sa.select(_case.c.id).where(*where).limit(cap + 1).subquery()
    return sa.select(sa.func.count()).select_from(capped).scalar_subquery()


def _count(session: Session, where: list, cap: int) -> int:
    return session.scalar(sa.select(_capped(where, cap))) or 0


def categories(session: Session) -> list[CaseCategory]:
    """Return every category, active first, in the admin's order."""
    return list(session.scalars(sa.select(CaseCategory).order_by(
        CaseCategory.active.desc(), CaseCategory.sort, CaseCategory.id)))


def agents(session: Session) -> list[StaffUser]:
    """Return the active staff who can be given cases."""
    return [u for u in session.scalars(sa.select(StaffUser).where(StaffUser.active.is_(True))
                                       .order_by(StaffUser.name))
            if u.has_role("ops_agent", "finance", "vetting", "admin")]
