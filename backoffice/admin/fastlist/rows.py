"""Plain rows: a list page or a record read as column values by statements built once per view,
with no ORM objects (a view opts in with plain_rows)."""

from collections import namedtuple
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from backoffice import audit

HistoryEvent = namedtuple("HistoryEvent", "at actor action changes note")


class PlainRow(SimpleNamespace):
    """A list row (or its related row) as plain attribute values."""


class Label:
    """A related row on a plain record page, shown by its one label column."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __str__(self) -> str:
        return str(self.text)


def label_columns(model_class) -> tuple | None:
    """Return the columns a model's __str__ reads (its __label_columns__), or None for all."""
    names = getattr(model_class, "__label_columns__", None)
    return None if names is None else tuple(getattr(model_class, n) for n in names)


def table_column(attr):
    """Return the table column behind a model's column attribute (or its property), or None
    for anything else."""
    prop = attr if isinstance(attr, sa.orm.ColumnProperty) else getattr(attr, "property", None)
    if isinstance(prop, sa.orm.ColumnProperty) and len(prop.columns) == 1:
        column = prop.columns[0]
        return column if isinstance(column, sa.Column) else None
    return None


def join_related(tables, rel) -> tuple:
    """Outer-join a many-to-one relation's table (aliased) to tables; return both."""
    alias = rel.mapper.local_table.alias()
    on = sa.and_(*(alias.c[remote.key] == local for local, remote in rel.local_remote_pairs))
    return tables.outerjoin(alias, on), alias


@dataclass(frozen=True)
class PlainPage:
    """A list's page statement on plain tables: its columns, its joins and a row maker."""

    select: sa.Select
    tables: sa.FromClause
    pk: sa.Column
    make_row: object

    @classmethod
    def build(cls, view) -> "PlainPage":
        model = view.model
        mapper = sa.inspect(model)
        table = mapper.local_table
        pk = mapper.primary_key[0]
        names = [pk.key] + [c for c, _ in view._list_columns if c != pk.key]
        columns, tables, aliases = [], table, {}
        own, related = [], {}
        for i, name in enumerate(names):
            rel_name, _, attr = name.rpartition(".")
            owner = mapper
            if rel_name:
                rel = mapper.relationships.get(rel_name)
                if rel is None or rel.uselist or "." in rel_name:
                    raise TypeError(f"{type(view).__name__}.plain_rows: {name} is not a "
                                    "column of a many-to-one relation")
                if rel_name not in aliases:
                    tables, aliases[rel_name] = join_related(tables, rel)
                owner = rel.mapper
                related.setdefault(rel_name, []).append((attr, i))
            else:
                own.append((name, i))
            column = table_column(owner.column_attrs.get(attr))
            if column is None:
                raise TypeError(f"{type(view).__name__}.plain_rows: the list shows {name}, "
                                "which is not a column; leave plain_rows off")
            columns.append(aliases[rel_name].c[column.key] if rel_name else column)

        def make_row(row) -> PlainRow:
            obj = PlainRow(**{n: row[i] for n, i in own})
            for rel_name, attrs in related.items():
                values = {a: row[i] for a, i in attrs}
                # An outer join that found nothing reads as no related row, as the ORM's None.
                setattr(obj, rel_name, PlainRow(**values)
                        if any(v is not None for v in values.values()) else None)
            return obj

        return cls(sa.select(*columns), tables, pk, make_row)


def plain_record(model, details_columns) -> tuple | None:
    """Return (statement, row maker) reading a record and its audit history as plain columns,
    or None unless every field is a column or a many-to-one relation named by one column."""
    mapper = sa.inspect(model)
    table = mapper.local_table
    pk = mapper.primary_key[0]
    names = [pk.key] + [n for n, _ in details_columns if n != pk.key]
    columns, tables, own, related = [], table, [], []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            return None
        if name in mapper.column_attrs:
            column = table_column(mapper.column_attrs[name])
            if column is None:
                return None
            columns.append(column)
            own.append((name, i))
            continue
        rel = mapper.relationships.get(name)
        label = label_columns(rel.mapper.class_) if rel is not None else None
        if rel is None or rel.uselist or label is None or len(label) != 1:
            return None
        tables, alias = join_related(tables, rel)
        columns.append(alias.c[table_column(label[0]).key])
        related.append((name, i))

    # The record's audit history comes in the same statement, one row per event (the record's
    # columns repeated): one round trip for the whole page.
    events = audit.AuditEvent.__table__.alias()
    history = [events.c.at, events.c.actor, events.c.action, events.c.changes, events.c.note]
    tables = tables.outerjoin(events, sa.and_(
        events.c.entity == table.name,
        events.c.entity_id == sa.cast(pk, events.c.entity_id.type)))
    first_event = len(columns)

    def make_row(rows) -> PlainRow:
        row = rows[0]
        obj = PlainRow(**{n: row[i] for n, i in own})
        for n, i in related:
            setattr(obj, n, None if row[i] is None else Label(row[i]))
        obj.audit_history = [HistoryEvent(*r[first_event:]) for r in rows
                             if r[first_event] is not None]
        return obj

    stmt = (sa.select(*columns, *history).select_from(tables)
            .where(pk == sa.bindparam("record_id")).order_by(events.c.id))
    return stmt, make_row
