"""The privacy app's own records, and the traces a person leaves in the framework (sessions, tokens, admin log)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import transaction
from oauth2_provider.models import get_access_token_model, get_grant_model, get_id_token_model, get_refresh_token_model

from privacy.models import ConsentDecision, ConsentState, DisclosedStudent, PrivacyRequest, SuppressedRollNumber
from privacy.registry import Declaration, Subject

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
        ("subject_user", "subject_student", "requested_by", "decided_by"),
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


def _scrub_admin_log(obj: Any) -> None:
    content_type = ContentType.objects.get_for_model(obj)
    LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).update(
        object_repr=f"(erased {content_type.model})", change_message=""
    )


@transaction.atomic
def erase(subject: Subject) -> dict[str, Any]:
    if subject.student is not None:
        student = subject.student
        ConsentDecision.objects.filter(student=student).delete()
        ConsentState.objects.filter(student=student).delete()
        DisclosedStudent.objects.filter(student=student).delete()
        SuppressedRollNumber.objects.get_or_create(roll_number=student.roll_number)
        _scrub_admin_log(student)
        return {
            "erased": ["consent decisions", "the list of disclosures about the child", "admin log entries"],
            "kept": [
                {
                    "what": "the roll number on the suppression list",
                    "why": "so that a partner sync cannot recreate the erased child",
                }
            ],
        }
    user = subject.user
    ConsentDecision.objects.filter(guardian__user=user).update(guardian=None)
    for model in (get_access_token_model(), get_refresh_token_model(), get_grant_model(), get_id_token_model()):
        model.objects.filter(user=user).delete()
    user_sessions = [s.pk for s in Session.objects.all() if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)]
    Session.objects.filter(pk__in=user_sessions).delete()
    _scrub_admin_log(user)
    LogEntry.objects.filter(user=user).update(change_message="")
    return {
        "erased": ["sign-in sessions", "tokens of partner apps", "admin log entries"],
        "kept": [
            {
                "what": "consent decisions they made, no longer linked to them",
                "why": "they prove each child's consent state (legal obligation)",
            }
        ],
    }


def apply_retention(policy: Any, cutoff: Any, dry_run: bool) -> int:
    """The disclosure log is deleted once its period has passed."""
    from privacy.models import Disclosure

    if policy.category != "disclosure_log":
        return 0
    due = Disclosure.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return due.count()
    count = 0
    while ids := list(due.values_list("pk", flat=True)[:500]):
        Disclosure.objects.filter(pk__in=ids).delete()
        count += len(ids)
    return count
