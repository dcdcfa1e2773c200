"""The privacy app's own records, and the traces a person leaves in the framework (sessions, tokens, admin log)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q, QuerySet
from oauth2_provider.models import (
    get_access_token_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from privacy.consent import refresh_state
from privacy.models import ConsentDecision, ConsentState, DisclosedStudent, PrivacyRequest, SuppressedRollNumber
from privacy.registry import Declaration, Subject, scrub_admin_log
from privacy.services import OPEN, export_dir

DECLARATIONS = [
    Declaration(
        "privacy.ConsentDecision",
        ("student", "guardian", "decision", "method", "recorded_by"),
        "consent",
        "Proving what a family agreed to",
        "While the child is at the school",
        False,
        "legal_obligation",
    ),
    Declaration(
        "privacy.ConsentState",
        ("student", "state"),
        "consent",
        "Enforcing consent",
        "While the child is at the school",
        False,
        "legal_obligation",
    ),
    Declaration(
        "privacy.Disclosure",
        ("application", "on_behalf_of"),
        "disclosure_log",
        "Showing families who saw their child's data",
        "Two years",
        False,
        "legal_obligation",
    ),
    Declaration(
        "privacy.DisclosedStudent",
        ("student",),
        "disclosure_log",
        "Showing families who saw their child's data",
        "Two years",
        False,
        "legal_obligation",
    ),
    Declaration(
        "privacy.PrivacyRequest",
        # `outcome` holds the exported data while an export is processed, until it is written to the zip.
        ("subject_user", "subject_student", "requested_by", "decided_by", "outcome"),
        "privacy_request",
        "Answering requests and proving that we did",
        "Six years",
        True,
        "legal_obligation",
    ),
    Declaration(
        "privacy.SuppressedRollNumber",
        ("roll_number",),
        "suppression",
        "Keeping an erased child erased",
        "Indefinitely",
        True,
        "legal_obligation",
    ),
    Declaration("privacy.PartnerPurpose", ("application",), "partner", "Purpose limitation", "While registered"),
    Declaration(
        "admin.LogEntry",
        ("user", "object_repr", "change_message"),
        "audit",
        "Who changed what in the admin",
        "Two years",
        False,
        "legitimate_interests",
    ),
    Declaration("oauth2_provider.AccessToken", ("user",), "account", "Signing in partner apps", "One hour"),
    Declaration("oauth2_provider.RefreshToken", ("user",), "account", "Signing in partner apps", "Fourteen days"),
    Declaration("oauth2_provider.Grant", ("user",), "account", "Signing in partner apps", "Minutes"),
    Declaration("oauth2_provider.IDToken", ("user",), "account", "Signing in partner apps", "One hour"),
    Declaration("oauth2_provider.DeviceGrant", ("user",), "account", "Signing in partner apps", "Minutes"),
    Declaration(
        "harmony.Application", ("user",), "partner", "The partner systems the school registered", "While registered"
    ),
]


def _decided_by(decision: ConsentDecision, requester: Any) -> str:
    """Name the requester's own decisions; anyone else's are "another guardian"."""
    if decision.guardian is None:
        return "a former guardian"  # erased since: their decision stays, their name does not
    if requester is not None and decision.guardian.user_id == requester.pk:
        return decision.guardian.user.get_full_name()
    return "another guardian"


def export(subject: Subject) -> dict[str, Any]:
    if subject.student is not None:
        decisions = ConsentDecision.objects.filter(student=subject.student).select_related(
            "purpose", "text", "guardian__user"
        )
        disclosures = DisclosedStudent.objects.filter(student=subject.student).select_related(
            "disclosure__application", "disclosure__purpose"
        )
        return {
            "consentDecisions": [
                {
                    "purpose": d.purpose.code,
                    "textVersion": d.text.version,
                    "decision": d.decision,
                    "method": d.method,
                    "by": _decided_by(d, subject.requester),
                    "at": d.created_at.isoformat(),
                }
                for d in decisions
            ],
            "disclosures": [
                {
                    "application": d.disclosure.application.name
                    if d.disclosure.application
                    else "a removed application",
                    "purpose": d.disclosure.purpose.code if d.disclosure.purpose else None,
                    "what": d.disclosure.entity,
                    "at": d.disclosure.created_at.isoformat(),
                }
                for d in disclosures
            ],
        }
    requests = PrivacyRequest.objects.filter(subject_user=subject.user)
    return {
        "consentDecisionsMade": [
            {
                "studentId": d.student_id,
                "purpose": d.purpose.code,
                "decision": d.decision,
                "at": d.created_at.isoformat(),
            }
            for d in ConsentDecision.objects.filter(guardian__user=subject.user).select_related("purpose")
        ],
        "privacyRequests": [{"kind": r.kind, "status": r.status, "at": r.created_at.isoformat()} for r in requests],
    }


def _forget_exports(exports: QuerySet[PrivacyRequest]) -> int:
    """Delete the files of earlier exports and any copy an unfinished one holds: they copy erased data."""
    exports = exports.filter(kind=PrivacyRequest.Kind.EXPORT)
    files = [name for name in exports.values_list("export_file", flat=True) if name]
    for name in files:
        (export_dir() / name).unlink(missing_ok=True)
    exports.filter(status=PrivacyRequest.Status.READY).update(status=PrivacyRequest.Status.EXPIRED, export_file="")
    exports.filter(status__in=OPEN).update(outcome={}, steps_done=[])  # a retry starts again from the erased data
    return len(files)


def _guardian_of(user: Any) -> Any:
    try:
        return user.guardian
    except ObjectDoesNotExist:
        return None


@transaction.atomic
def erase(subject: Subject) -> dict[str, Any]:
    if subject.student is not None:
        student = subject.student
        ConsentDecision.objects.filter(student=student).delete()
        ConsentState.objects.filter(student=student).delete()
        DisclosedStudent.objects.filter(student=student).delete()
        SuppressedRollNumber.objects.get_or_create(roll_number=student.roll_number)
        # This step runs before the students app unlinks the guardians: their links still name the child.
        scrub_admin_log(student, *student.guardianships.all())
        _forget_exports(PrivacyRequest.objects.filter(subject_student=student))
        return {
            "erased": [
                "consent decisions",
                "the list of disclosures about the child",
                "admin log entries",
                "copies of the child's data made for earlier requests",
            ],
            "kept": [
                {
                    "what": "the roll number on the suppression list",
                    "why": "so that a partner sync cannot recreate the erased child",
                }
            ],
        }
    user = subject.user
    decisions = ConsentDecision.objects.filter(guardian__user=user)
    affected = {(d.student, d.purpose) for d in decisions.select_related("student", "purpose")}
    decisions.update(guardian=None)
    for student, purpose in affected:
        refresh_state(student, purpose)  # the erased guardian's decisions no longer count
    for model in (
        get_access_token_model(),
        get_refresh_token_model(),
        get_grant_model(),
        get_id_token_model(),
        get_device_grant_model(),
    ):
        model.objects.filter(user=user).delete()
    user_sessions = [s.pk for s in Session.objects.all() if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)]
    Session.objects.filter(pk__in=user_sessions).delete()
    guardian = _guardian_of(user)
    links = list(guardian.guardianships.all()) if guardian is not None else []
    scrub_admin_log(user, *([guardian] if guardian is not None else []), *links)
    LogEntry.objects.filter(user=user).update(change_message="")
    _forget_exports(PrivacyRequest.objects.filter(Q(subject_user=user) | Q(requested_by=user)))
    return {
        "erased": [
            "sign-in sessions",
            "tokens of partner apps",
            "admin log entries",
            "copies of their data made for earlier requests",
        ],
        "kept": [
            {
                "what": "consent decisions they made, no longer linked to them",
                "why": "they prove what was agreed for each child and when (legal obligation); they no longer count",
            }
        ],
    }


def apply_retention(policy: Any, cutoff: Any, dry_run: bool) -> int:
    """The disclosure log is deleted once its period has passed, in batches."""
    from privacy.models import Disclosure
    from privacy.retention import batch_size

    if policy.category != "disclosure_log":
        return 0
    due = Disclosure.objects.filter(created_at__lte=cutoff)
    if dry_run:
        return due.count()
    count = 0
    while ids := list(due.order_by("pk").values_list("pk", flat=True)[: batch_size()]):
        Disclosure.objects.filter(pk__in=ids).delete()
        count += len(ids)
    return count
