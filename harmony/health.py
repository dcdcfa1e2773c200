"""`/healthz`: the process answers. `/readyz`: the database, the cache and the task queue answer too."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _cache_ok() -> bool:
    probe = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", 5)
        ok = cache.get(probe) == "1"
        cache.delete(probe)
        return ok
    except Exception:
        return False


def _tasks_ok() -> bool:
    """The task backend loads and, for the database queue, its table answers."""
    try:
        from django.tasks import task_backends

        backend = task_backends["default"]
        if any(message.is_serious() for message in backend.check()):
            return False
        if backend.__class__.__module__.startswith("django_tasks_db"):
            from django_tasks_db.models import DBTaskResult

            DBTaskResult.objects.exists()
        return True
    except Exception:
        return False


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "cache": _cache_ok(), "tasks": _tasks_ok()}
    ready = all(checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
