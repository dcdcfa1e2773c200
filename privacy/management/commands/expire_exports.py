from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from privacy.services import expire_exports


class Command(BaseCommand):
    help = "Delete the files of data exports past their expiry and mark them expired (run daily from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{expire_exports()} export(s) expired.")
