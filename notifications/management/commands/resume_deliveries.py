"""Settle the e-mail deliveries a stopped worker left behind, and queue the sends that are due.

Meant for cron, every few minutes (`*/5 * * * * python manage.py resume_deliveries`). Running it twice does
nothing more than running it once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications.tasks import STUCK_AFTER, deliveries_resume


class Command(BaseCommand):
    help = (
        f"Mark e-mail deliveries stuck in 'sending' for over {int(STUCK_AFTER.total_seconds() // 60)} minutes as "
        "failed (never sent twice), and queue a send for every message with e-mails due now."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        resumed = deliveries_resume()
        self.stdout.write(
            f"{resumed.failed} stuck deliveries marked failed; sends queued for {len(resumed.queued)} messages."
        )
