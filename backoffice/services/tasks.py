"""Tasks: made by hand or by a job, taken, done or cancelled through here, one transition.

A job-made task closes itself when its cause is gone. The domain that makes a kind of task
registers a checker for it (@resolves) in the module that makes it; close_resolved, run every
minute by backoffice.jobs, asks each registered checker about the open tasks of its kind. The
domains import this module, never the reverse: a kind whose domain is not loaded stays open.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.days import MOMENT_HINT, parse_moment
from backoffice.db import is_postgres, utcnow
from backoffice.i18n import Code, Refusal, for_team
from backoffice.models import (
    ROLES,
    Client,
    Professional,
    ServiceRequest,
    StaffUser,
    Task,
    TaskStatus,
)

MANUAL = "manual"
S = TaskStatus
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.OPEN: frozenset({S.DONE, S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
}

# Records a task may be about, by the entity code stored on the task. The domains' tables are
# named, not imported: the core reads a number or a name from them and nothing else.
_invoice = sa.table("billing_invoice", sa.column("id"), sa.column("series"), sa.column("number"))
_case = sa.table("case", sa.column("id"), sa.column("subject"))
_application = sa.table("vetting_application", sa.column("id"), sa.column("professional_id"))
_plan_run = sa.table("plan_run", sa.column("id"), sa.column("horizon_start"))
LABELS = {"client": "Client", "professional": "Professional",
          "service_request": "Service request", "billing_invoice": "Invoice", "case": "Case",
          "vetting_application": "Application", "plan_run": "Plan"}
# What an agent may choose when making a task by hand.
HAND_ENTITIES = ("client", "professional", "service_request", "billing_invoice", "case")
_INVOICE_CODE = re.compile(r"^\s*([A-Za-z0-9]+)-0*(\d+)\s*$")
_CASE_NUMBER = re.compile(r"^\s*[Cc]-0*(\d+)\s*$")


def _names(session: Session, entity: str, ids: list[int]) -> dict[int, str]:
    """Return the name of each existing record of entity among ids."""
    if entity == "client":
        rows = session.execute(sa.select(Client.id, Client.name).where(Client.id.in_(ids)))
    elif entity == "professional":
        rows = session.execute(sa.select(Professional.id, Professional.name)
                               .where(Professional.id.in_(ids)))
    elif entity == "service_request":
        found = session.execute(
            sa.select(ServiceRequest.id, ServiceRequest.start_at, ServiceRequest.service_date,
                      ServiceRequest.window_start, Client.name)
            .join(Client, Client.id == ServiceRequest.client_id)
            .where(ServiceRequest.id.in_(ids)))
        rows = [(i, f"{start or datetime.combine(day, window):%d/%m %H:%M}, {name}")
                for i, start, day, window, name in found]
    elif entity == "billing_invoice":
        rows = [(i, f"{series}-{number:06d}") for i, series, number in session.execute(
            sa.select(_invoice.c.id, _invoice.c.series, _invoice.c.number)
            .where(_invoice.c.id.in_(ids)))]
    elif entity == "case":
        rows = [(i, f"C-{i:06d} {subject}") for i, subject in session.execute(
            sa.select(_case.c.id, _case.c.subject).where(_case.c.id.in_(ids)))]
    elif entity == "vetting_application":
        rows = session.execute(
            sa.select(_application.c.id, Professional.name)
            .join(Professional, Professional.id == _application.c.professional_id)
            .where(_application.c.id.in_(ids)))
    elif entity == "plan_run":
        rows = [(i, f"{start:%d/%m/%Y}") for i, start in session.execute(
            sa.select(_plan_run.c.id, _plan_run.c.horizon_start).where(_plan_run.c.id.in_(ids)))]
    else:
        rows = []
    return {i: name for i, name in rows}


def describe(session: Session, refs) -> dict[tuple[str, str], str]:
    """Return the name of each (entity, entity_id) that exists: one query per kind of record."""
    wanted: dict[str, set[int]] = {}
    for entity, entity_id in refs:
        if entity in LABELS and entity_id and str(entity_id).isdigit():
            wanted.setdefault(entity, set()).add(int(entity_id))
    found = {}
    for entity, ids in wanted.items():
        for i, name in _names(session, entity, sorted(ids)).items():
            found[(entity, str(i))] = name
    return found


def _record_id(session: Session, entity: str | None, ref) -> str | None:
    """Return the id of the record a hand-made task is about, or refuse naming the field."""
    if entity in (None, "") and ref in (None, ""):
        return None
    if entity not in HAND_ENTITIES:
        raise Refusal("entity: choose what the task is about")
    text = str(ref or "").strip()
    if entity == "billing_invoice" and (code := _INVOICE_CODE.match(text)):
        text = str(session.scalar(sa.select(_invoice.c.id).where(
            _invoice.c.series == code.group(1).upper(),
            _invoice.c.number == int(code.group(2)))) or "")
    elif entity == "case" and (number := _CASE_NUMBER.match(text)):
        text = number.group(1)
    if not text.isdigit() or len(text) > 18 or not _names(session, entity, [int(text)]):
        raise Refusal("entity_id: there is no such record (%(ref)s)", ref=text[:40] or "—")
    return str(int(text))


def _person(session: Session, assignee, role: str) -> StaffUser | None:
    if assignee in (None, ""):
        return None
    user = assignee if isinstance(assignee, StaffUser) else (
        session.get(StaffUser, int(assignee)) if str(assignee).isdigit()
        and len(str(assignee)) < 10 else None)
    if user is None or not user.active:
        raise Refusal("assignee: choose an active staff user")
    if not user.has_role(role, "admin"):
        raise Refusal("assignee: %(name)s is not in that team", name=user.name)
    return user


def _text(value: str | None, field: str, *, required: bool, limit: int) -> str | None:
    text = (value or "").strip()
    if "\x00" in text:
        raise Refusal("%(field)s: contains a character that cannot be stored (NUL); remove it "
                      "and send the form again.", field=field)
    if required and not text:
        raise Refusal("%(field)s: this field is required", field=field)
    if len(text) > limit:
        raise Refusal("%(field)s: at most %(n)d characters", field=field, n=limit)
    return text or None


def create(session: Session, *, title: str, role: str, assignee=None, entity: str | None = None,
           entity_id=None, due_at: datetime | None = None, details: str | None = None,
           kind: str = MANUAL, user: StaffUser) -> Task:
    """Make a task for a team or a person, about a record that exists; refuse a bad value."""
    title = _text(title, "title", required=True, limit=255)
    if role not in ROLES:
        raise Refusal("role: choose a team")
    person = _person(session, assignee, role)
    entity_id = _record_id(session, entity, entity_id)
    if due_at is not None and due_at < utcnow().replace(second=0, microsecond=0):
        raise Refusal("due_at: the due date has already passed")
    task = Task(role=role, kind=kind, title=title, entity=entity or None, entity_id=entity_id,
                details=_text(details, "details", required=False, limit=4000), due_at=due_at,
                assigned_to_id=person.id if person else None)
    session.add(task)
    session.flush()
    return task


def _check_open(task: Task, user: StaffUser | None) -> None:
    if user is not None and not user.has_role(task.role, "admin"):
        raise Refusal("role: this task belongs to another team")
    if task.status != S.OPEN:
        raise Refusal("status: the task is already %(status)s", status=task.status)


def take(session: Session, *, task: Task, user: StaffUser) -> Task:
    """Assign an open task of one's team to oneself."""
    _check_open(task, user)
    task.assigned_to_id = user.id
    session.flush()
    return task


def transition(session: Session, *, task: Task, to: TaskStatus, outcome: str,
               user: StaffUser | None, now: datetime | None = None) -> Task:
    """Close a task as done or cancelled with the line that says why, or raise Refusal."""
    _check_open(task, user)
    if TaskStatus(to) not in TRANSITIONS[task.status]:
        raise Refusal("status: a task cannot go from %(current)s to %(to)s",
                      current=task.status, to=TaskStatus(to))
    field = "outcome" if to == S.DONE else "reason"
    task.outcome = _text(outcome, field, required=True, limit=2000)
    task.status, task.done_at = TaskStatus(to), now or utcnow()
    if user is not None:
        task.assigned_to_id = user.id  # who closed it
    session.flush()
    return task


def complete(session: Session, *, task: Task, outcome: str, user: StaffUser) -> Task:
    """Mark a task done, saying what came of it."""
    return transition(session, task=task, to=S.DONE, outcome=outcome, user=user)


def cancel(session: Session, *, task: Task, reason: str, user: StaffUser) -> Task:
    """Cancel a task that is not to be done, saying why."""
    return transition(session, task=task, to=S.CANCELLED, outcome=reason, user=user)


def parse_local(text: str | None, *, tz: str, field: str = "Due (local time)") -> datetime | None:
    """Return a local date and time typed in a form (dd/mm/yyyy hh:mm as the pages write it,
    or ISO) as naive UTC."""
    if not (text or "").strip():
        return None
    try:
        local = parse_moment(text)
    except ValueError:
        raise Refusal("%(field)s: “%(value)s” is not a day and time; write it as %(hint)s",
                      field=Code(field), value=text.strip()[:40], hint=Code(MOMENT_HINT)) from None
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime | None, *, tz: str) -> datetime | None:
    """Return a stored naive UTC moment in the business's timezone, for the reader."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


# --- closing by themselves
# A checker is given the open tasks of its kind and returns {task id: why it is closed} for
# those whose cause is gone, the why written for the team (for_team).
Checker = Callable[[Session, list[Task], datetime], dict[int, str]]
CHECKERS: dict[str, Checker] = {}


def resolves(kind: str) -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker of kind's open tasks."""
    def register(checker: Checker) -> Checker:
        CHECKERS[kind] = checker
        return checker
    return register


def _utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _close(task: Task, outcome: str, now: datetime) -> bool:
    if task.status != S.OPEN:
        return False
    task.status, task.outcome, task.done_at = S.CANCELLED, outcome[:2000], _utc(now)
    return True


def close_about(session: Session, *, entity: str, entity_id, outcome: str,
                kinds: tuple[str, ...], now: datetime | None = None) -> int:
    """Close the open tasks of kinds about one record, at the moment their cause goes away."""
    tasks = session.scalars(sa.select(Task).where(
        Task.entity == entity, Task.entity_id == str(entity_id), Task.kind.in_(kinds),
        Task.status == S.OPEN)).all()
    closed = sum(_close(task, outcome, now or utcnow()) for task in tasks)
    session.flush()
    return closed


def close_resolved(session: Session, *, now: datetime) -> dict:
    """Close every open job-made task whose cause is gone; return how many, by kind."""
    closed = {}
    for kind in sorted(CHECKERS):
        query = (sa.select(Task).where(Task.status == S.OPEN, Task.kind == kind)
                 .order_by(Task.id))
        if is_postgres(session):  # a second scheduler takes the rows this one has not
            query = query.with_for_update(skip_locked=True)
        tasks = session.scalars(query).all()
        why = CHECKERS[kind](session, tasks, now) if tasks else {}
        if count := sum(_close(t, why[t.id], now) for t in tasks if t.id in why):
            closed[kind] = count
    session.flush()
    return {"closed": closed}


def closed_line(why: str) -> str:
    """Return the line a task that closed by itself keeps: why (for_team), in its words."""
    return for_team("Closed by itself: %(why)s", why=why)


def shown(task: Task, field: str, *, html: bool = False) -> str:
    """Return a task's title or details in the reader's language: worded from its message
    key when it has one, else as stored (rows written before #18, tasks typed by people).

    html: escaped, with words said in another language (a call script) marked lang="xx"."""
    from markupsafe import Markup, escape

    key = (task.message or {}).get(field)
    if not key:
        text = getattr(task, field) or ""
        return escape(text) if html else text
    lines = [key] if isinstance(key[0], str) else key
    worded = [_worded(line, html) for line in lines]
    return Markup("\n").join(worded) if html else "\n".join(worded)


def _worded(key, html: bool = False):
    from flask_babel import gettext
    from markupsafe import escape

    message, params = key[0], key[1] if len(key) > 1 else {}
    template = gettext(message) if message else ""
    values = {k: _value(v, html) for k, v in params.items()}
    if not html:
        return template % values if values else template
    return escape(template) % values if values else escape(template)


def _value(value, html: bool = False):
    """Word one stored value for the reader (backoffice.i18n.Keyed's markers)."""
    from datetime import date as date_type

    from flask_babel import gettext
    from markupsafe import Markup, escape

    from backoffice.wording import euros, local_time

    if isinstance(value, float):  # a measure (kilometres, hours): the reader's decimal mark
        from backoffice.wording import decimal

        return decimal(value, 1)
    if isinstance(value, dict) and "said" in value:
        if not html:
            return value["said"]
        return Markup('<span lang="{}">{}</span>').format(value.get("lang", ""), value["said"])
    if not isinstance(value, dict) or len(value) != 1:
        return escape(value) if html and isinstance(value, str) else value
    (kind, raw), = value.items()
    if kind == "msg":
        return _worded(raw, html)
    if kind == "code":
        worded = gettext(raw)
        return worded if worded != raw else raw.replace("_", " ")
    if kind == "money":
        return euros(raw)
    if kind == "local":
        return datetime.fromisoformat(raw).strftime("%d/%m %H:%M")
    if kind == "at":
        return local_time(datetime.fromisoformat(raw))
    if kind == "date":
        return date_type.fromisoformat(raw).strftime("%d/%m/%Y")
    return value
