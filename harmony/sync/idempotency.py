"""Idempotency-Key: a request sent again under the same key gets the first answer and changes nothing twice.

The key is taken by inserting its row inside the request's own transaction, before any write. A duplicate
arriving meanwhile blocks on the unique key until the first commits (PostgreSQL) or waits for the write lock
(SQLite), then finds the row and replays its answer; if the first rolled back, the duplicate takes the key
and runs. No "in progress" state is needed, and a crash leaves no stale key behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from harmony.errors import Conflict
from harmony.sync.models import IdempotentRequest

KEEP_FOR = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    answer: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    """Return a digest of what a request asks for: its method, path and JSON body (as sent, keys in its order)."""
    text = json.dumps([method, path, body], separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def forget_expired() -> None:
    """Delete the answers kept longer than KEEP_FOR (on its own, not inside a request's long transaction)."""
    IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()


def claim(*, application: Any, key: str, digest: str) -> IdempotentRequest | Replay:
    """Take `key` for this request, or return the answer given the first time it was used.

    Call it inside the request's transaction, before writing anything. The same key with a different request
    is a 409.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                application=application, key=key, fingerprint=digest, created_at=now
            )
    except IntegrityError:
        pass
    first = IdempotentRequest.objects.get(application=application, key=key)
    if first.fingerprint != digest:
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
            field=HEADER,
        )
    return Replay(first.status_code, json.loads(first.answer))


def complete(claimed: IdempotentRequest, *, status_code: int, answer: Any, subjects: Iterable[int] = ()) -> None:
    """Keep the answer to replay; `subjects` are the students whose data it carries."""
    claimed.status_code = status_code
    claimed.answer = json.dumps(answer, default=str)
    claimed.subjects = "".join(f" {subject} " for subject in sorted(set(subjects)))
    claimed.save(update_fields=["status_code", "answer", "subjects"])


def forget_answers_about(student_ids: Iterable[int]) -> int:
    """Delete every kept answer that carries the data of one of these students (an erasure calls it)."""
    match = Q()
    for student_id in student_ids:
        match |= Q(subjects__contains=f" {student_id} ")
    if not match:
        return 0
    return IdempotentRequest.objects.filter(match).delete()[0]
