from __future__ import annotations

from django.tasks import task

from privacy import services


@task
def process_privacy_request(request_id: int) -> str:
    """Export or erase, step by step (see privacy.services.process)."""
    return services.process(request_id).status


@task
def expire_privacy_exports() -> int:
    return services.expire_exports()


@task
def apply_retention_policies() -> int:
    """The retention run, for schedulers that enqueue tasks rather than run commands."""
    from privacy.retention import apply_retention

    return len(apply_retention())
