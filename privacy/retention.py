"""Retention: per category, a period from an anchor event and an action, applied in batches by each provider.

A provider that owns a category implements `apply_retention(policy, cutoff, dry_run) -> int`, returning how
many records are due (dry run) or were anonymised or deleted, `batch_size()` at a time. A record is due
when its anchor is at or before the cutoff: a student who left exactly the period ago is due today.
`manage.py apply_retention` and the scheduled task call every provider for every policy.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from privacy.models import RetentionPolicy
from privacy.registry import providers

logger = logging.getLogger("harmony.privacy")


def batch_size() -> int:
    return settings.PRIVACY_RETENTION_BATCH_SIZE


def cutoff_for(policy: RetentionPolicy, now: datetime | None = None) -> datetime:
    """Return the moment before which (inclusive) records of the policy are due: now minus the period."""
    return (now or timezone.now()) - timedelta(days=policy.period_days)


def apply_retention(*, dry_run: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Return, per policy and provider, how many records are due (dry run) or were handled."""
    report = []
    for policy in RetentionPolicy.objects.all():
        cutoff = cutoff_for(policy, now)
        for provider in providers():
            handler = getattr(provider.module, "apply_retention", None)
            if handler is None:
                continue
            count = handler(policy, cutoff, dry_run)
            if count:
                entry = {
                    "category": policy.category,
                    "app": provider.app_label,
                    "action": policy.action,
                    "cutoff": cutoff.isoformat(),
                    "count": count,
                    "dryRun": dry_run,
                }
                logger.info("retention", extra=entry)
                report.append(entry)
    return report
