"""One statement for a whole batch of rows: INSERT (optionally ON CONFLICT DO NOTHING) and UPDATE by id.

A sync batch holds thousands of records; Django's bulk_create and bulk_update would spend more time building a
model instance and converting each value than the database spends writing them (and bulk_update's CASE grows
quadratically). Here a row is a tuple of Python values in the order of `fields`; only the columns that need it
are converted (encrypted fields sealed, dates for SQLite), and the rows go as one array per column through
`unnest` on PostgreSQL (bound in binary), or as multi-row VALUES on SQLite (in as few statements as its variable
limit allows).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.db.models.lookups import In

from harmony.fields import EncryptedField

# Field types whose Python values the database drivers take as they are.
PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


@models.Field.register_lookup
class AnyOf(In):
    """`field__any_of=values`: `__in`, sent to PostgreSQL as `= ANY(%s)` with the values as one array.

    A list of thousands costs one parameter instead of a placeholder each, which the driver would otherwise
    parse out of a statement too long for its cache, on every batch.
    """

    lookup_name = "any_of"

    def get_prep_lookup(self) -> list[Any]:
        prepare = self.lhs.output_field.get_prep_value
        return [prepare(value) for value in self.rhs if value is not None]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        kind = self.lhs.output_field.db_type(connection).split("(")[0]
        return f"{lhs} = ANY(%s::{kind}[])", [*lhs_params, self.rhs]


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, EncryptedField):
        return field.get_prep_value  # seals the value; the same on every database
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, cls=field.encoder)  # text, cast by the database
    if isinstance(field, PLAIN) or (connection.vendor == "postgresql" and isinstance(field, models.DateField)):
        return None  # psycopg takes dates and aware datetimes as they are; SQLite wants Django's text
    return lambda value: field.get_db_prep_save(value, connection)


def _prepared(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Return the rows' values column by column, converted for the database."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index, name in enumerate(fields):
        convert = _converter(model._meta.get_field(name))
        if convert is not None:
            columns[index] = [convert(value) for value in columns[index]]
    return columns


def _same(column: list[Any]) -> bool:
    """Whether every value of a column is the same (then it goes once, not as an array)."""
    return column.count(column[0]) == len(column)


def _names(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(name).column) for name in fields]


def _types(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    # varchar(32)[] would check nothing more: the column checks the length on write.
    return [model._meta.get_field(name).db_type(connection).split("(")[0] for name in fields]


def _unnest(
    columns: list[list[Any]], kinds: list[str], *, arrays_only: int = 0
) -> tuple[list[str], str, list[Any], list[Any]]:
    """Return, for PostgreSQL, each column's expression, the FROM clause, and their parameters.

    A column whose values are all alike is sent once as a parameter, except the first `arrays_only`; the
    others go as one array each.
    """
    expressions, arrays, scalar_params, array_params = [], [], [], []
    for position, (column, kind) in enumerate(zip(columns, kinds, strict=True)):
        if position >= arrays_only and _same(column):
            expressions.append(f"%b::{kind}")
            scalar_params.append(column[0])
        else:
            expressions.append(f"v.c{len(arrays)}")
            arrays.append(f"%b::{kind}[]")
            array_params.append(column)
    if not arrays:  # every column alike: unnest one of them for the number of rows
        arrays.append(f"%b::{kinds[0]}[]")
        array_params.append(columns[0])
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    return expressions, f"unnest({', '.join(arrays)}) AS v({aliases})", scalar_params, array_params


def _cursor() -> Any:
    """A cursor of the request's connection (and transaction); on PostgreSQL one that binds on the server.

    Django's own cursors bind on the client, which spells every array out as text for the server to parse
    again; bound on the server, the arrays (`%b`) go in binary, several times faster for thousands of values.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = ServerBindingCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def _rows_per_statement(width: int) -> int:
    limit = connection.features.max_query_params
    return max(1, limit // width) if limit else 1_000_000


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` and return the `returning` columns of the rows inserted.

    With `skip_conflicts_on` (a unique set of fields), a row whose key exists already is left out, and so is
    missing from the answer: a concurrent writer took it first.
    """
    if not rows:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    columns = _prepared(model, fields, rows)
    suffix = ""
    if skip_conflicts_on:
        suffix += f" ON CONFLICT ({', '.join(_names(model, skip_conflicts_on))}) DO NOTHING"
    if returning:
        suffix += f" RETURNING {', '.join(_names(model, returning))}"
    head = f"INSERT INTO {table} ({', '.join(_names(model, fields))})"
    found: list[tuple[Any, ...]] = []
    with _cursor() as cursor:
        if connection.vendor == "postgresql":
            expressions, source, scalars, arrays = _unnest(columns, _types(model, fields))
            cursor.execute(f"{head} SELECT {', '.join(expressions)} FROM {source}{suffix}", [*scalars, *arrays])
            return list(cursor.fetchall()) if returning else []
        values = list(zip(*columns, strict=True))
        step = _rows_per_statement(len(fields))
        placeholder = f"({', '.join(['%s'] * len(fields))})"
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            cursor.execute(
                f"{head} VALUES {', '.join([placeholder] * len(chunk))}{suffix}",
                [value for row in chunk for value in row],
            )
            if returning:
                found.extend(cursor.fetchall())
    return found


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Set `fields` of the rows whose id is each row's first value: `fields` name the others, in order."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    names = _names(model, fields)
    every = [model._meta.pk.name, *fields]
    columns = _prepared(model, every, rows)
    with _cursor() as cursor:
        if connection.vendor == "postgresql":
            kinds = _types(model, every)
            expressions, source, scalars, arrays = _unnest(columns, kinds, arrays_only=1)  # the ids: v.c0
            assignments = ", ".join(f"{n} = {e}" for n, e in zip(names, expressions[1:], strict=True))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {source} WHERE {table}.{pk} = {expressions[0]}",
                [*scalars, *arrays],
            )
            return
        values = list(zip(*columns, strict=True))
        step = _rows_per_statement(len(every))
        placeholder = f"({', '.join(['%s'] * len(every))})"
        assignments = ", ".join(f"{name} = v.column{i + 2}" for i, name in enumerate(names))
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v "
                f"WHERE {table}.{pk} = v.column1",
                [value for row in chunk for value in row],
            )
