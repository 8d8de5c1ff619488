"""Erase a person's personal data from every table: the right to erasure (GDPR Art. 17).

A person's former values (name, email, phone, address, notes, now and in their audit history)
are replaced by ERASED wherever they stand in a text column, audit rows keep their structure
with personal values replaced, and columns that hold nothing but the person's data are emptied.
What the law requires us to keep stays: the billing identity on issued invoices (see
KEPT_FOR_LAW and the README).

Writes are plain UPDATE statements, not ORM attribute changes, so the audit listener never
copies the values being erased into a new audit row; the caller writes one row that names the
fields erased.
"""

import json
import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import Base, utcnow
from backoffice.models import AuditEvent

ERASED = "[erased]"
PERSONAL_FIELDS = ("name", "email", "phone", "address", "notes", "lat", "lon", "contact")
# Columns an erasure leaves as they are: (table, column). Issued invoices must keep the
# recipient's identity for as long as tax law requires them kept (README, "Erasure").
KEPT_FOR_LAW = frozenset({("billing_invoice", "bill_to_name"),
                          ("billing_invoice", "bill_to_address")})
# Shorter values match too much text that is not the person's (a phone's last digits, "Ana").
_MIN_LENGTH = 4


def former_values(session: Session, *, entity: str, entity_id: int,
                  current: Iterable[str | None]) -> list[str]:
    """Return the person's values to erase: the current ones and every earlier one in the
    audit history of their record, longest first."""
    values = {v.strip() for v in current if isinstance(v, str)}
    rows = session.scalars(sa.select(AuditEvent.changes).where(
        AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id)))
    for changes in rows:
        if not isinstance(changes, dict):
            continue
        for field in PERSONAL_FIELDS:
            pair = changes.get(field)
            for value in pair if isinstance(pair, list) else [pair]:
                if isinstance(value, str):
                    values.add(value.strip())
    return longest_first(values)


def longest_first(values: Iterable[str | None]) -> list[str]:
    """Return the distinct values worth looking for, longest first (a name before its part)."""
    kept = {v.strip() for v in values if isinstance(v, str)}
    return sorted((v for v in kept if len(v) >= _MIN_LENGTH and v != ERASED),
                  key=lambda v: (-len(v), v))


def cells(session: Session, *columns, where) -> list[str]:
    """Return the text in these columns of the rows where matches: values about to be cleared,
    to be looked for in other tables (audit rows) too."""
    return [v for row in session.execute(sa.select(*columns).where(where)) for v in row
            if isinstance(v, str)]


def scrub(value, former: list[str]):
    """Return value (text, or a JSON structure) with every former value replaced by ERASED."""
    if isinstance(value, str):
        for old in former:
            if old.lower() in value.lower():
                value = re.sub(re.escape(old), ERASED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, former) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, former) for v in value]
    return value


def erase_personal_fields(changes):
    """Return an audit row's changes with every personal field's values replaced."""
    if not isinstance(changes, dict):
        return changes
    return {k: ([None if v is None else ERASED for v in pair] if isinstance(pair, list)
                else (None if pair is None else ERASED)) if k in PERSONAL_FIELDS else pair
            for k, pair in changes.items()}


def erase_record_history(session: Session, *, entity: str, ids: Iterable[int]) -> None:
    """Replace the personal fields' values in the audit rows of these records."""
    ids = [str(i) for i in ids]
    if not ids:
        return
    table = AuditEvent.__table__
    for chunk in _chunks(ids):
        rows = session.execute(sa.select(table.c.id, table.c.changes).where(
            table.c.entity == entity, table.c.entity_id.in_(chunk))).all()
        for row in rows:
            erased = erase_personal_fields(row.changes)
            if erased != row.changes:
                session.execute(sa.update(table).where(table.c.id == row.id)
                                .values(changes=erased, redacted_at=utcnow()))


def scrub_everywhere(session: Session, former: list[str]) -> int:
    """Replace the former values in every text column of every table; return rows changed.

    One scan per table: a rare, deliberate act may read every row once."""
    if not former:
        return 0
    changed = 0
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.c if _is_text(c) and (table.name, c.name) not in KEPT_FOR_LAW]
        if not columns:
            continue
        pk = list(table.primary_key.columns)
        hits = sa.or_(*(_contains(c, old) for c in columns for old in former))
        for row in session.execute(sa.select(*pk, *columns).where(hits)).all():
            values = {}
            for c in columns:
                old_value = row._mapping[c]
                new_value = scrub(old_value, former)
                if new_value != old_value:
                    values[c.name] = new_value
            if values:
                if "redacted_at" in table.c:  # the audit trail says which rows were redacted
                    values["redacted_at"] = utcnow()
                key = sa.and_(*(k == row._mapping[k] for k in pk))
                session.execute(sa.update(table).where(key).values(**values))
                changed += 1
    return changed


def _is_text(column: sa.Column) -> bool:
    kind = column.type
    return (isinstance(kind, sa.String | sa.Text | sa.JSON) and not isinstance(kind, sa.Enum)
            and not column.foreign_keys)


def _contains(column: sa.Column, value: str):
    # JSON is stored with non-ASCII letters escaped ("Garc\u00eda"): look for both forms; and
    # for each, as stored and in lower case (SQLite lowers only ASCII letters).
    forms = [value, json.dumps(value)[1:-1]] if isinstance(column.type, sa.JSON) else [value]
    text = sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column
    return sa.or_(*(test for form in forms for test in (
        text.like(_pattern(form), escape="\\"),
        sa.func.lower(text).like(_pattern(form.lower()), escape="\\"))))


def _pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]
