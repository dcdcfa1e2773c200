"""Reads for the privacy pages and API: consent overviews, coverage, the disclosure log, the request queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from privacy.consent import current_states
from privacy.models import ConsentState, DisclosedStudent, PrivacyRequest, Purpose
from students.models import ClassGroup, Student


def consent_overview(user: Any) -> dict[str, Any]:
    """A guardian's children with the state of each purpose that asks for consent, in four queries."""
    children = list(Student.objects.live().filter(guardianships__guardian__user=user).order_by("first_name"))
    purposes = list(Purpose.objects.filter(is_active=True, requires_consent=True).prefetch_related("texts"))
    states = current_states(children, purposes)
    texts = {p.pk: next((t for t in p.texts.all() if t.status == "active"), None) for p in purposes}
    return {
        "purposes": [
            {
                "code": p.code,
                "title": p.title,
                "lawfulBasis": p.lawful_basis,
                "text": texts[p.pk].text if texts[p.pk] else "",
                "textVersion": texts[p.pk].version if texts[p.pk] else None,
            }
            for p in purposes
        ],
        "children": [
            {
                "studentId": child.pk,
                "firstName": child.first_name,
                "consents": {p.code: states[(child.pk, p.pk)] for p in purposes},
            }
            for child in children
        ],
    }


def needs_answer(user: Any) -> int:
    """How many (child, purpose) pairs wait for this guardian's answer: not asked or needing re-consent."""
    overview = consent_overview(user)
    return sum(
        1
        for child in overview["children"]
        for state in child["consents"].values()
        if state in (ConsentState.State.NOT_ASKED, ConsentState.State.NEEDS_RECONSENT)
    )


def coverage_by_purpose(class_groups: QuerySet[ClassGroup] | None = None) -> list[dict[str, Any]]:
    """Per purpose (and class group when given): how many children are in each consent state."""
    students = Student.objects.live().filter(status=Student.Status.ACTIVE)
    if class_groups is not None:
        students = students.filter(class_group__in=class_groups)
    total = students.count()
    rows = ConsentState.objects.filter(student__in=students).values("purpose_id", "state").annotate(n=Count("pk"))
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["purpose_id"], {})[row["state"]] = row["n"]
    result = []
    for purpose in Purpose.objects.filter(is_active=True, requires_consent=True):
        states = counts.get(purpose.pk, {})
        asked = sum(states.values())
        result.append(
            {
                "purpose": purpose,
                "total": total,
                "not_asked": total - asked,
                **{state: states.get(state, 0) for state in ("granted", "refused", "withdrawn", "needs_reconsent")},
            }
        )
    return result


def disclosures_for(children: QuerySet[Student], limit: int = 200) -> list[dict[str, Any]]:
    rows = (
        DisclosedStudent.objects.filter(student__in=children)
        .select_related("disclosure__application", "disclosure__purpose", "student")
        .order_by("-disclosure__created_at", "-disclosure_id")[:limit]
    )
    return [
        {
            "studentId": row.student_id,
            "firstName": row.student.first_name,
            "application": row.disclosure.application.name if row.disclosure.application else "a removed application",
            "purpose": row.disclosure.purpose.title if row.disclosure.purpose else None,
            "what": row.disclosure.entity,
            "records": row.disclosure.record_count,
            "at": row.disclosure.created_at.isoformat(),
        }
        for row in rows
    ]


def request_queue(*, due_within_days: int = 7) -> dict[str, Any]:
    """The privacy officer's queue: open requests by due date, with the ones due soon flagged."""
    soon = timezone.localdate() + timedelta(days=due_within_days)
    open_requests = (
        PrivacyRequest.objects.filter(status__in=["pending", "approved", "processing", "failed"])
        .select_related("subject_student", "subject_user", "requested_by")
        .order_by("due_on", "created_at")
    )
    return {
        "open": open_requests,
        "due_soon": open_requests.filter(due_on__lte=soon).count(),
        "overdue": open_requests.filter(due_on__lt=timezone.localdate()).count(),
        "recent": PrivacyRequest.objects.exclude(status__in=["pending", "approved", "processing", "failed"])
        .select_related("subject_student", "subject_user")
        .order_by("-created_at")[:50],
        "by_status": dict(PrivacyRequest.objects.values_list("status").annotate(n=Count("pk"))),
    }
