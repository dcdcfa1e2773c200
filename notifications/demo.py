"""A first message to every family (called by `manage.py seed_demo`)."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model

from notifications.models import Message
from notifications.services import Audience, message_send


def seed(*, rng: random.Random, stdout: Any) -> None:
    office = get_user_model().objects.filter(groups__name="office").first()
    message = message_send(
        actor=office,
        audience=Audience(kind=Message.Audience.SCHOOL),
        title="Welcome to Harmony",
        body="You can now see your children's attendance, tell us about absences and choose what you agree to.",
        type="info",
        priority="normal",
    )
    stdout.write(f"Notifications: a welcome message to {message.recipient_count} guardians.")
