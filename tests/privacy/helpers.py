"""Helpers shared by the privacy tests: which providers are still missing, and the whole database as text."""

from __future__ import annotations

import importlib.util
from collections import defaultdict

from django.apps import apps
from django.db import connection

# Apps whose provider is still being written on another branch. Their models and tables are checked as soon
# as their `privacy.py` exists: the exemption ends by itself, it cannot outlive the missing module.
PROVIDER_PENDING = {"attendance", "notifications"}


def has_provider_module(app_name: str) -> bool:
    try:
        return importlib.util.find_spec(f"{app_name}.privacy") is not None
    except ModuleNotFoundError:  # the app is a plain module, not a package
        return False


def pending_apps() -> set[str]:
    """Return the pending apps that still have no provider module."""
    return {label for label in PROVIDER_PENDING if not has_provider_module(apps.get_app_config(label).name)}


def tables_of(app_labels: set[str]) -> set[str]:
    return {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in app_labels
    }


def rows_as_text() -> dict[str, list[str]]:
    """Return every row of every table of the database as text, by table.

    SQLite: the connection's SQL dump (one INSERT per row). PostgreSQL: each base table of the schema listed
    by information_schema, every row cast to text.
    """
    connection.ensure_connection()
    rows: dict[str, list[str]] = defaultdict(list)
    if connection.vendor == "sqlite":
        for statement in connection.connection.iterdump():
            if statement.startswith('INSERT INTO "'):
                rows[statement.split('"')[1]].append(statement)
        return dict(rows)
    assert connection.vendor == "postgresql", connection.vendor
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} AS t ORDER BY 1")
            rows[table] = [row for (row,) in cursor.fetchall()]
    return dict(rows)
