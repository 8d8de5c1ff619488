"""Audit trail: flushed changes to audited models, and explicit events, become AuditEvent rows."""

import contextlib
import contextvars
import enum
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.models import AuditEvent

IGNORED_FIELDS = {"updated_at", "created_at", "version", "password_hash", "phone_e164"}


@dataclass(frozen=True)
class Actor:
    id: int | None
    label: str


SYSTEM = Actor(None, "system")
_current_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("actor", default=SYSTEM)


def current_actor() -> Actor:
    """Return who the changes in this context are made by."""
    return _current_actor.get()


def set_actor(actor: Actor) -> contextvars.Token:
    """Make actor the author of changes in this context; returns a token for reset."""
    return _current_actor.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor):
    """Attribute the changes made inside the block to actor (a job, a CLI command)."""
    token = _current_actor.set(actor)
    try:
        yield actor
    finally:
        _current_actor.reset(token)


def plain(value):
    """Return a value as the audit trail writes it: enums by value, moments in ISO format."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if hasattr(value, "__table__"):
        return str(inspect(value).identity[0]) if inspect(value).identity else str(value)
    return value


def _entity_id(obj) -> str | None:
    # After the flush the primary key is on the instance even before the identity map has it.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return None if any(k is None for k in key) else ",".join(str(k) for k in key)


def row(action: str, entity: str, entity_id, changes, note=None,
        actor: Actor | None = None) -> dict:
    """Return an audit row as a plain dict, for writers that insert many rows at once."""
    actor = actor or current_actor()
    return {
        "at": utcnow(),
        "actor_id": actor.id,
        "actor": actor.label,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "action": action,
        "changes": changes,
        "note": note,
    }


def _changes(obj, *, new: bool, deleted: bool) -> dict:
    state = inspect(obj)
    out = {}
    # A model may name bookkeeping columns its own trail does without (a case's SLA clocks).
    ignored = IGNORED_FIELDS | getattr(type(obj), "__audit_ignored__", frozenset())
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in ignored:
            continue
        hist = state.attrs[key].history
        if deleted:
            value = state.attrs[key].loaded_value
            if value is not None and value is not sa.util.symbol("NO_VALUE"):
                out[key] = [plain(value), None]
        elif new:
            value = getattr(obj, key)
            if value is not None:
                out[key] = [None, plain(value)]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            newv = hist.added[0] if hist.added else None
            if old != newv:
                out[key] = [plain(old), plain(newv)]
    for rel in state.mapper.relationships:
        if rel.secondary is None or deleted:
            continue
        hist = state.attrs[rel.key].history
        if hist.has_changes():
            out[rel.key] = [[str(o) for o in hist.deleted], [str(o) for o in hist.added]]
    return out


def _collect(session: Session) -> list[dict]:
    rows = []
    for obj, action in (
        *((o, "create") for o in session.new),
        *((o, "update") for o in session.dirty),
        *((o, "delete") for o in session.deleted),
    ):
        if not getattr(type(obj), "__audited__", False):
            continue
        if action == "update" and not session.is_modified(obj, include_collections=True):
            continue
        changes = _changes(obj, new=action == "create", deleted=action == "delete")
        if action == "update" and not changes:
            continue
        rows.append({"obj": obj, "action": action, "changes": changes})
    return rows


def install(session_class=Session) -> None:
    """Audit every flush of sessions of session_class: called once by create_app (which the CLI
    and the scheduler build too), never at import."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def _after_flush(session: Session, _ctx) -> None:
    # After the flush the new rows have their ids, and until its end the session still lists
    # what it wrote with each attribute's history: one pass, nothing handed between events.
    rows = [row(p["action"], p["obj"].__tablename__, _entity_id(p["obj"]), p["changes"])
            for p in _collect(session)]
    if rows:
        session.connection().execute(sa.insert(AuditEvent.__table__), rows)


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id=None,
    changes: dict | None = None,
    note: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Write an explicit audit row (a transition, a bulk action, a download, a login)."""
    session.connection().execute(
        sa.insert(AuditEvent.__table__), [row(action, entity, entity_id, changes, note, actor)]
    )


# Plain table columns: a record's page reads these rows without the ORM's per-row work.
_events = AuditEvent.__table__.c
_HISTORY = (
    sa.select(_events.at, _events.actor, _events.action, _events.changes, _events.note)
    .where(_events.entity == sa.bindparam("entity"),
           _events.entity_id == sa.bindparam("entity_id"))
    .order_by(_events.id)
)


def history(session: Session, entity: str, entity_id) -> list:
    """Return the audit rows of one record, oldest first (at, actor, action, changes, note)."""
    return session.execute(_HISTORY, {"entity": entity, "entity_id": str(entity_id)}).all()
