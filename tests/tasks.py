"""Run the database task queue inside a test, as `manage.py db_worker --batch` would, on the test's connection."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_queued_tasks(limit: int = 1000) -> int:
    """Run every task that is due, including tasks those tasks enqueue; return how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < limit and (result := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        result.claim("tests")
        worker.run_task(result)
        ran += 1
    return ran
