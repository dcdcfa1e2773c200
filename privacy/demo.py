"""The demo school's consent decisions and a partner that needs consent (called by `manage.py seed_demo`)."""

from __future__ import annotations

import json
import random
from typing import Any

from django.utils import timezone

from harmony.management.commands.create_partner_app import register_partner_app
from harmony.models import Application
from privacy.models import ConsentDecision, ConsentState, PartnerPurpose, Purpose
from students.models import Guardianship

# Purpose code and how many families answered yes, no, or not yet.
ANSWERS = {
    "photosOnWebsite": (70, 15),
    "schoolTrips": (85, 5),
    "emergencyMedicalTreatment": (90, 2),
    "thirdPartySharing": (60, 20),
    "marketing": (30, 40),
}


def seed(*, rng: random.Random, stdout: Any) -> None:
    purposes = {p.code: p for p in Purpose.objects.prefetch_related("texts")}
    links = list(
        Guardianship.objects.filter(parental_responsibility=True, primary_contact=True).select_related("student")
    )
    now = timezone.now()
    decisions, states = [], []
    for code, (yes, no) in ANSWERS.items():
        purpose = purposes[code]
        text = next(t for t in purpose.texts.all() if t.status == "active")
        for link in links:
            roll = rng.randint(1, 100)
            if roll > yes + no:
                continue
            decision = "granted" if roll <= yes else "refused"
            decisions.append(
                ConsentDecision(
                    student=link.student,
                    purpose=purpose,
                    text=text,
                    guardian=link.guardian,
                    decision=decision,
                    method="paper_form",
                    created_at=now,
                )
            )
            states.append(ConsentState(student=link.student, purpose=purpose, state=decision))
    ConsentDecision.objects.bulk_create(decisions)
    ConsentState.objects.bulk_create(states)
    # The school's own systems (the demo MIS) act without a stated purpose; a trip organiser acts for one.
    credentials = register_partner_app(name="Demo trip organiser (needs consent)", scopes=["students:read"])
    app = Application.objects.get(client_id=credentials["client_id"])
    PartnerPurpose.objects.create(application=app, purpose=purposes["thirdPartySharing"], is_default=True)
    stdout.write(f"Privacy: {len(decisions)} consent decisions; a partner acting for 'thirdPartySharing':")
    stdout.write("  " + json.dumps(credentials))
