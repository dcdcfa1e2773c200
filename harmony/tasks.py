"""Enqueueing background tasks safely inside a transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_tasks_db.backend import DatabaseBackend


def enqueue_with_transaction(task: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue `task` so that it runs only if the surrounding transaction commits.

    The database queue is itself transactional: the task's row commits or rolls back with the data it needs,
    so no worker can pick it up before that data exists. Any other backend gets the task after the commit.
    """
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(*args, **kwargs))
