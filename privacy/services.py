"""Privacy requests: asking for a copy or an erasure, the officer's decision, processing, expiry."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from harmony.errors import Conflict
from harmony.tasks import enqueue_with_transaction
from privacy.models import PrivacyRequest
from privacy.registry import Subject, providers
from students.models import Guardianship, Student

if TYPE_CHECKING:
    from harmony.models import User

Status = PrivacyRequest.Status
OPEN = [Status.PENDING, Status.APPROVED, Status.PROCESSING, Status.FAILED]


def may_request_for(user: User, *, student: Student | None) -> bool:
    """A guardian asks for themself and their children; privacy officers and office staff for anyone."""
    if user.has_role("privacy_officer", "administrator", "office"):
        return True
    if student is None:
        return True
    return Guardianship.objects.filter(student=student, guardian__user=user).exists()


@transaction.atomic
def request_create(
    *, kind: str, requested_by: User, via: str, student: Student | None = None, subject_user: User | None = None
) -> PrivacyRequest:
    """Open a request about a child or a person; one open request per kind and subject at a time."""
    if kind not in PrivacyRequest.Kind.values:
        raise ValidationError({"kind": "Ask for an export or an erasure."})
    if student is None and subject_user is None:
        subject_user = requested_by
    if not may_request_for(requested_by, student=student):
        raise PermissionDenied("You can only ask about yourself and your own children.")
    if (
        subject_user is not None
        and subject_user != requested_by
        and not requested_by.has_role("privacy_officer", "administrator", "office")
    ):
        raise PermissionDenied("You can only ask about yourself and your own children.")
    same = PrivacyRequest.objects.filter(
        kind=kind, status__in=OPEN, subject_student=student, subject_user=None if student else subject_user
    )
    if existing := same.first():
        raise Conflict("A request like this is already open.", code="request_open", existingId=existing.pk)
    return PrivacyRequest.objects.create(
        kind=kind,
        requested_by=requested_by,
        via=via,
        subject_student=student,
        subject_user=None if student else subject_user,
    )


@transaction.atomic
def request_decide(*, officer: User, request: PrivacyRequest, approve: bool, reason: str = "") -> PrivacyRequest:
    """Approve (and start processing) or reject a pending request; a rejection needs a reason."""
    if not officer.has_role("privacy_officer", "administrator"):
        raise PermissionDenied("Only the privacy officer decides privacy requests.")
    locked = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != Status.PENDING:
        raise Conflict(f"This request is already {locked.get_status_display().lower()}.", code="already_decided")
    if not approve and not reason.strip():
        raise ValidationError({"reason": "Say why the request is rejected: the family will read it."})
    locked.status = Status.APPROVED if approve else Status.REJECTED
    locked.decided_by, locked.decided_at, locked.decision_reason = officer, timezone.now(), reason
    locked.save()
    if approve:
        from privacy.tasks import process_privacy_request

        enqueue_with_transaction(process_privacy_request, locked.pk)
    return locked


@transaction.atomic
def request_retry(*, officer: User, request: PrivacyRequest) -> PrivacyRequest:
    """Run a failed request again: finished steps are not redone."""
    if not officer.has_role("privacy_officer", "administrator"):
        raise PermissionDenied("Only the privacy officer retries privacy requests.")
    if request.status != Status.FAILED:
        raise Conflict("Only a failed request can be retried.", code="not_failed")
    from privacy.tasks import process_privacy_request

    enqueue_with_transaction(process_privacy_request, request.pk)
    return request


def export_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "privacy-exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def subject_of(request: PrivacyRequest) -> Subject:
    return Subject(student=request.subject_student, user=request.subject_user, requester=request.requested_by)


def process(request_id: int) -> PrivacyRequest:
    """Carry out an approved request, one provider at a time, remembering each finished step.

    A failure marks the request failed with its error; running it again resumes after the last finished
    step. Erasure steps each run in their own transaction.
    """
    with transaction.atomic():
        request = PrivacyRequest.objects.select_for_update().get(pk=request_id)
        if request.status not in (Status.APPROVED, Status.PROCESSING, Status.FAILED):
            return request
        request.status = Status.PROCESSING
        request.save(update_fields=["status"])
    subject = subject_of(request)
    parts: dict[str, Any] = dict(request.outcome.get("parts", {})) if request.kind == "export" else {}
    for provider in providers():
        if provider.app_label in request.steps_done:
            continue
        try:
            with transaction.atomic():
                if request.kind == PrivacyRequest.Kind.EXPORT:
                    parts[provider.app_label] = provider.export(subject)
                    request.outcome = {**request.outcome, "parts": parts}
                else:
                    request.outcome = {**request.outcome, provider.app_label: provider.erase(subject)}
                request.steps_done = [*request.steps_done, provider.app_label]
                request.save(update_fields=["outcome", "steps_done"])
        except Exception as error:
            PrivacyRequest.objects.filter(pk=request.pk).update(
                status=Status.FAILED, last_error=f"{provider.app_label}: {type(error).__name__}: {error}"[:2000]
            )
            raise
    if request.kind == PrivacyRequest.Kind.EXPORT:
        _write_zip(request, parts)
        request.outcome = {"apps": sorted(parts)}  # the data itself lives only in the zip
        request.status = Status.READY
        request.expires_at = timezone.now() + timedelta(days=settings.PRIVACY_EXPORT_DAYS)
    else:
        request.status = Status.COMPLETED
    request.completed_at, request.last_error = timezone.now(), ""
    request.save()
    return request


def _write_zip(request: PrivacyRequest, parts: dict[str, Any]) -> None:
    subject = subject_of(request)
    manifest = {
        "about": subject.label,
        "requestedBy": request.requested_by_id,
        "requestedAt": request.created_at.isoformat(),
        "generatedAt": timezone.now().isoformat(),
        "apps": sorted(parts),
        "files": [f"{app}.json" for app in sorted(parts)],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        for app, data in sorted(parts.items()):
            archive.writestr(f"{app}.json", json.dumps(data, indent=2, default=str))
    name = f"{request.download_token}.zip"
    (export_dir() / name).write_bytes(buffer.getvalue())
    request.export_file = name


def export_download(*, request: PrivacyRequest, user: User) -> Path:
    """Return the export's file for the person who asked (or staff on their behalf), while it is valid."""
    if request.kind != PrivacyRequest.Kind.EXPORT or request.status not in (Status.READY, Status.EXPIRED):
        raise PrivacyRequest.DoesNotExist
    allowed = (
        request.requested_by_id == user.pk
        or request.subject_user_id == user.pk
        or user.has_role("privacy_officer", "administrator")
    )
    if not allowed:
        raise PrivacyRequest.DoesNotExist
    if request.status == Status.EXPIRED or (request.expires_at and request.expires_at <= timezone.now()):
        expire_exports()
        raise Conflict("This download has expired: ask for a new copy.", code="expired")
    return export_dir() / request.export_file


def expire_exports() -> int:
    """Delete the files of exports past their expiry and mark them expired."""
    due = PrivacyRequest.objects.filter(status=Status.READY, expires_at__lte=timezone.now())
    count = 0
    for request in due:
        (export_dir() / request.export_file).unlink(missing_ok=True)
        request.status, request.export_file = Status.EXPIRED, ""
        request.save(update_fields=["status", "export_file"])
        count += 1
    return count
