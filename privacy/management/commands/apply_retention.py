from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy.retention import apply_retention


class Command(BaseCommand):
    help = "Anonymise or delete personal data whose retention period has ended (see the retention policies)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only show what is due.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = apply_retention(dry_run=options["dry_run"])
        verb = "due" if options["dry_run"] else "done"
        if not report:
            self.stdout.write(f"Nothing {verb}.")
        for entry in report:
            self.stdout.write(json.dumps(entry))
