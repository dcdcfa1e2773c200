"""Reads for the privacy pages and API: consent overviews, coverage, the disclosure log, the request queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from privacy.consent import current_states
from privacy.models import (
    ConsentDecision,
    ConsentState,
    DisclosedStudent,
    Disclosure,
    PrivacyRequest,
    Purpose,
    PurposeText,
)
from students.models import ClassGroup, Guardian, Guardianship, Student

NEEDS_ANSWER = (ConsentState.State.NOT_ASKED, ConsentState.State.NEEDS_RECONSENT)


def consent_overview(user: Any, *, responsible_only: bool = False) -> dict[str, Any]:
    """A guardian's children with the state of each purpose that asks for consent, in four queries.

    With `responsible_only`, only the children the guardian may decide for (parental responsibility).
    """
    links = {"guardianships__guardian__user": user}
    if responsible_only:
        links["guardianships__parental_responsibility"] = True  # the same join: one filter() call
    children = list(Student.objects.live().filter(**links).order_by("first_name"))
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
    """How many (child, purpose) pairs wait for this guardian's answer: not asked or needing re-consent.

    Only children the guardian may decide for count: a guardian without parental responsibility cannot answer.
    """
    overview = consent_overview(user, responsible_only=True)
    return sum(1 for child in overview["children"] for state in child["consents"].values() if state in NEEDS_ANSWER)


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


@dataclass
class ConsentQuestion:
    """One purpose for one child, as a guardian sees it on the family pages."""

    purpose: Purpose
    text: PurposeText | None  # the version a decision made now would be recorded against
    state: str  # the child's combined state, from every guardian with parental responsibility
    history: list[ConsentDecision] = field(default_factory=list)  # newest first, every guardian's
    mine: ConsentDecision | None = None  # this guardian's latest decision
    others: list[ConsentDecision] = field(default_factory=list)  # the latest of each other guardian
    mine_outdated: bool = False  # their grant was given on a text that a re-consent version replaced

    @property
    def needs_answer(self) -> bool:
        return self.state in NEEDS_ANSWER


@dataclass
class ChildConsents:
    student: Student
    may_decide: bool  # the guardian holds parental responsibility for this child
    questions: list[ConsentQuestion]


def _consent_purposes() -> list[Purpose]:
    active_texts = PurposeText.objects.exclude(status=PurposeText.Status.DRAFT)
    return list(
        Purpose.objects.filter(is_active=True, requires_consent=True).prefetch_related(
            Prefetch("texts", queryset=active_texts)
        )
    )


def family_consents(guardian: Guardian) -> list[ChildConsents]:
    """Each of the guardian's children with every purpose that asks for consent: text, state, history.

    Five queries whatever the number of children, purposes and decisions.
    """
    links = list(
        Guardianship.objects.filter(guardian=guardian, student__deleted_at__isnull=True)
        .select_related("student")
        .order_by("student__first_name", "student_id")
    )
    children = [link.student for link in links]
    purposes = _consent_purposes()
    states = current_states(children, purposes)
    histories: dict[tuple[int, int], list[ConsentDecision]] = {}
    decisions = (
        ConsentDecision.objects.filter(student__in=children, purpose__in=purposes)
        .select_related("text")
        .order_by("-created_at", "-id")  # as consent.history
    )
    for decision in decisions:
        histories.setdefault((decision.student_id, decision.purpose_id), []).append(decision)
    result = []
    for link in links:
        questions = []
        for purpose in purposes:
            texts = list(purpose.texts.all())
            active = next((t for t in texts if t.status == PurposeText.Status.ACTIVE), None)
            reconsent = max((t.version for t in texts if t.requires_reconsent), default=0)
            history = histories.get((link.student_id, purpose.pk), [])
            latest: dict[int | None, ConsentDecision] = {}
            for decision in history:
                latest.setdefault(decision.guardian_id, decision)
            mine = latest.pop(guardian.pk, None)
            questions.append(
                ConsentQuestion(
                    purpose=purpose,
                    text=active,
                    state=states[(link.student_id, purpose.pk)],
                    history=history,
                    mine=mine,
                    others=list(latest.values()),
                    mine_outdated=bool(
                        mine and mine.decision == ConsentDecision.Decision.GRANTED and mine.text.version < reconsent
                    ),
                )
            )
        result.append(ChildConsents(student=link.student, may_decide=link.parental_responsibility, questions=questions))
    return result


def count_needing_answer(children: list[ChildConsents]) -> int:
    """What `needs_answer` counts, from a page's data already read."""
    return sum(1 for child in children if child.may_decide for q in child.questions if q.needs_answer)


def _active_students(class_groups: QuerySet[ClassGroup] | None) -> QuerySet[Student]:
    students = Student.objects.live().filter(status=Student.Status.ACTIVE)
    return students if class_groups is None else students.filter(class_group__in=class_groups)


def coverage_by_class_group(purpose: Purpose, class_groups: QuerySet[ClassGroup] | None = None) -> list[dict[str, Any]]:
    """Per class group (all, or those given): how many children are in each consent state for `purpose`.

    Three queries whatever the number of class groups. Children in no class group make a row of their own.
    """
    students = _active_students(class_groups)
    totals = dict(students.order_by().values_list("class_group_id").annotate(n=Count("pk")))
    counts: dict[int | None, dict[str, int]] = {}
    rows = (
        ConsentState.objects.filter(purpose=purpose, student__in=students)
        .order_by()
        .values_list("student__class_group_id", "state")
        .annotate(n=Count("pk"))
    )
    for group_id, state, n in rows:
        counts.setdefault(group_id, {})[state] = n
    groups: list[ClassGroup | None] = list(ClassGroup.objects.all() if class_groups is None else class_groups)
    if totals.get(None):
        groups.append(None)
    result = []
    for group in groups:
        key = group.pk if group else None
        states = counts.get(key, {})
        total = totals.get(key, 0)
        result.append(
            {
                "class_group": group,
                "total": total,
                "not_asked": total - sum(states.values()),
                **{state: states.get(state, 0) for state in ("granted", "refused", "withdrawn", "needs_reconsent")},
            }
        )
    return result


def _matching(students: QuerySet[Student], search: str) -> QuerySet[Student]:
    for word in search.split():
        students = students.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(roll_number__icontains=word)
        )
    return students


def student_search(search: str, *, limit: int = 25) -> list[Student]:
    """Children on the school's roll matching every word (name or roll number), for staff who record consent.

    The privacy desk works for the whole school, so this does not go through `visible_to`: the pages that use
    it are open only to the roles that act school-wide (administrators, office, the privacy officer).
    """
    if not search.strip():
        return []
    students = _matching(Student.objects.live(), search).select_related("class_group")
    return list(students.order_by("last_name", "first_name", "id")[:limit])


def child_consents(student: Student) -> dict[str, Any]:
    """One child's consent as the school sees it: who may decide, the state per purpose, the whole ledger."""
    purposes = list(Purpose.objects.filter(is_active=True, requires_consent=True))
    states = current_states([student], purposes)
    return {
        "guardians": list(
            Guardianship.objects.filter(student=student, parental_responsibility=True).select_related("guardian__user")
        ),
        "states": [(purpose, states[(student.pk, purpose.pk)]) for purpose in purposes],
        "ledger": list(
            ConsentDecision.objects.filter(student=student)
            .select_related("purpose", "text", "guardian__user", "recorded_by")
            .order_by("-created_at", "-id")[:100]
        ),
    }


def disclosure_log(
    *,
    application: Any = None,
    child: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Disclosure]:
    """The disclosure log, newest first, filtered by application, child (name or roll number) and dates.

    With a child search each disclosure carries `matched`: the disclosed children who match it.
    """
    log = Disclosure.objects.select_related("application", "purpose", "on_behalf_of")
    if application is not None:
        log = log.filter(application=application)
    if date_from:
        log = log.filter(created_at__date__gte=date_from)
    if date_to:
        log = log.filter(created_at__date__lte=date_to)
    if child.strip():
        students = _matching(Student.objects.all(), child)
        matched = DisclosedStudent.objects.filter(student__in=students)
        log = log.filter(pk__in=matched.values("disclosure_id")).prefetch_related(
            Prefetch("students", queryset=matched.select_related("student"), to_attr="matched")
        )
    return log


def requests_of(user: Any) -> QuerySet[PrivacyRequest]:
    """The privacy requests a person made, or that are about them, newest first."""
    return (
        PrivacyRequest.objects.filter(Q(requested_by=user) | Q(subject_user=user))
        .select_related("subject_student", "subject_user")
        .order_by("-created_at", "-id")
    )
