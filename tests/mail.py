"""A stand-in for an unreliable SMTP server: the first sends fail, later ones land in `django.core.mail.outbox`.

Configure it through `settings.MAILERS`, as a deployment configures its real server:

    settings.MAILERS = {"default": {"BACKEND": "tests.mail.FlakyEmailBackend", "OPTIONS": {"failures": 2}}}

Each mailer instance is short-lived (one per task run), so the count of failures still to come is kept on the
class; `FlakyEmailBackend.reset()` starts a new count.
"""

from __future__ import annotations

import copy
import smtplib
from typing import Any, ClassVar

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class FlakyEmailBackend(BaseEmailBackend):
    attempts: ClassVar[int] = 0  # every call to send, failed or not, since the last reset

    def __init__(self, *, failures: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        if not hasattr(mail, "outbox"):
            mail.outbox = []

    @classmethod
    def reset(cls) -> None:
        cls.attempts = 0

    def send_messages(self, email_messages: Any) -> int:
        sent = 0
        for message in email_messages:
            FlakyEmailBackend.attempts += 1
            if FlakyEmailBackend.attempts <= self.failures:
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed (attempt {self.attempts})")
            message.message()  # build it, as a real server's client would
            mail.outbox.append(copy.deepcopy(message))
            sent += 1
        return sent


class WorkerStopped(BaseException):
    """What a worker process sees when it is killed: nothing in the task can catch it as an ordinary error."""


class StoppingEmailBackend(BaseEmailBackend):
    """A server the worker never hears back from: the process stops in the middle of the first send."""

    def send_messages(self, email_messages: Any) -> int:
        raise WorkerStopped("the worker was stopped while sending")
