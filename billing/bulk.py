"""Many rows in one statement: the writes of a dunning pass's batch."""

import enum
import json

import sqlalchemy as sa


def write_many(conn: sa.Connection, table: sa.Table, rows: list[dict], *, keys: tuple = (),
               returning: bool = False) -> list[int] | None:
    """Insert rows, or update the rows matching keys (given as k_<key>); ids if returning.

    Rows carry every column that has a Python-side default: on PostgreSQL one short statement
    takes each column's values as an array (unnest), and nothing fills defaults in. SQLAlchemy's
    multi-row VALUES is parsed anew by the driver for each batch and executemany sends one
    message per row; the two were half of a pass's own CPU. Elsewhere, Core's executemany.
    """
    if conn.dialect.name != "postgresql":
        if keys:
            where = [table.c[k] == sa.bindparam(f"k_{k}") for k in keys]
            conn.execute(sa.update(table).where(*where), rows)
            return None
        if returning:
            query = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(conn.execute(query, rows).scalars())
        conn.execute(sa.insert(table), rows)
        return None
    names = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    columns = [table.c[n[2:]] if n.startswith("k_") and n[2:] in keys else table.c[n]
               for n in names]
    arrays = ", ".join(f"CAST(:a{i} AS {c.type.compile(dialect=conn.dialect)}[])"
                       for i, c in enumerate(columns))
    params = {f"a{i}": [_db_value(c, row[n]) for row in rows]
              for i, (n, c) in enumerate(zip(names, columns, strict=True))}
    alias = ", ".join(quote(n) for n in names)
    if keys:
        sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in names if not n.startswith("k_"))
        match = " AND ".join(f"t.{quote(k)} = v.{quote('k_' + k)}" for k in keys)
        sql = (f"UPDATE {quote(table.name)} AS t SET {sets} FROM unnest({arrays}) "
               f"AS v({alias}) WHERE {match}")
    else:
        sql = (f"INSERT INTO {quote(table.name)} ({alias}) "
               f"SELECT * FROM unnest({arrays}) AS v({alias})")
        if returning:  # the rows come back in any order: matched by their invoice, one each
            sql += " RETURNING invoice_id, id"
            ids = dict(conn.execute(sa.text(sql), params).all())
            if len(ids) != len(rows):
                raise ValueError("rows: write_many returns ids for one row per invoice only")
            return [ids[row["invoice_id"]] for row in rows]
    conn.execute(sa.text(sql), params)
    return None


def _db_value(column: sa.Column, value):
    if isinstance(value, enum.Enum):
        return value.value
    if value is not None and isinstance(column.type, sa.JSON):
        return json.dumps(value)
    return value
