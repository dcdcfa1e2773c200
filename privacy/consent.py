"""The consent ledger and the state derived from it.

Each decision is appended, never changed. The current state of a child for a purpose comes from the latest
decision of each guardian with parental responsibility, combined by the school's rule (CONSENT_RULE):
`any_refusal_wins` (the default: one refusal or withdrawal outweighs any grant) or `latest_decision_wins`.
A grant given on a text older than a version published with "requires re-consent" counts as
"needs re-consent". ConsentState keeps the result so that partner APIs can filter with a join; it is derived
again on each decision, on each text that requires re-consent, and whenever a child's guardians or their
parental responsibility change (`privacy.receivers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from privacy.models import ConsentDecision, ConsentState, Purpose, PurposeText
from students.models import Guardian, Guardianship, Student

if TYPE_CHECKING:
    from harmony.models import Application, User

Decision = ConsentDecision.Decision
State = ConsentState.State
NEGATIVE = {Decision.REFUSED, Decision.WITHDRAWN}


def _reconsent_versions(purpose: Purpose) -> list[int]:
    return list(
        purpose.texts.filter(requires_reconsent=True)
        .exclude(status=PurposeText.Status.DRAFT)
        .values_list("version", flat=True)
    )


def derive_state(student: Student, purpose: Purpose) -> str:
    """Work out the current state from the ledger (see the module's docstring for the rule)."""
    responsible = set(
        Guardianship.objects.filter(student=student, parental_responsibility=True).values_list("guardian_id", flat=True)
    )
    latest: dict[int, ConsentDecision] = {}
    for decision in ConsentDecision.objects.filter(student=student, purpose=purpose).select_related("text"):
        if decision.guardian_id in responsible:
            latest[decision.guardian_id] = decision  # the ledger is ordered oldest first
    if not latest:
        return State.NOT_ASKED
    reconsent = _reconsent_versions(purpose)

    def state_of(decision: ConsentDecision) -> str:
        if decision.decision == Decision.GRANTED and any(v > decision.text.version for v in reconsent):
            return State.NEEDS_RECONSENT
        return decision.decision

    decisions = sorted(latest.values(), key=lambda d: (d.created_at, d.pk))
    if settings.CONSENT_RULE == "latest_decision_wins":
        return state_of(decisions[-1])
    negatives = [d for d in decisions if d.decision in NEGATIVE]
    if negatives:
        return negatives[-1].decision
    states = {state_of(d) for d in decisions}
    return State.NEEDS_RECONSENT if State.NEEDS_RECONSENT in states else State.GRANTED


def refresh_state(student: Student, purpose: Purpose) -> str:
    state = derive_state(student, purpose)
    ConsentState.objects.update_or_create(student=student, purpose=purpose, defaults={"state": state})
    return state


def refresh_states_of(student_id: int) -> None:
    """Derive again each state of a child that has decisions: after their guardians or responsibilities changed."""
    student = Student(pk=student_id)  # only its id is used
    for purpose in Purpose.objects.filter(decisions__student=student).distinct():
        refresh_state(student, purpose)


def current_states(students: list[Student], purposes: list[Purpose]) -> dict[tuple[int, int], str]:
    """Return {(student id, purpose id): state} for the given students and purposes, in one query."""
    rows = ConsentState.objects.filter(student__in=students, purpose__in=purposes).values_list(
        "student_id", "purpose_id", "state"
    )
    states = {(s, p): state for s, p, state in rows}
    return {(s.pk, p.pk): states.get((s.pk, p.pk), State.NOT_ASKED) for s in students for p in purposes}


@transaction.atomic
def consent_record(
    *,
    student: Student,
    purpose: Purpose,
    guardian: Guardian,
    decision: str,
    method: str,
    recorded_by: User | None = None,
    recorded_by_app: Application | None = None,
) -> ConsentDecision:
    """Append a guardian's decision for their child, on the purpose's current text, and refresh the state."""
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Use one of: {', '.join(Decision.values)}."})
    if not purpose.is_active:
        raise ValidationError({"purpose": f"The purpose {purpose.code} is no longer in use."})
    if not Guardianship.objects.filter(student=student, guardian=guardian, parental_responsibility=True).exists():
        raise PermissionDenied("Only a guardian with parental responsibility for this child can decide.")
    text = purpose.active_text()
    if text is None:
        raise ValidationError({"purpose": f"The purpose {purpose.code} has no published text to agree to yet."})
    entry = ConsentDecision.objects.create(
        student=student,
        purpose=purpose,
        text=text,
        guardian=guardian,
        decision=decision,
        method=method,
        recorded_by=recorded_by,
        recorded_by_app=recorded_by_app,
    )
    refresh_state(student, purpose)
    return entry


def decision_for_toggle(*, student: Student, purpose: Purpose, guardian: Guardian, agree: bool) -> str:
    """Turn a yes/no (the guide's PUT body, a family-page switch) into granted, refused or withdrawn."""
    if agree:
        return Decision.GRANTED
    last = (
        ConsentDecision.objects.filter(student=student, purpose=purpose, guardian=guardian)
        .order_by("-created_at", "-id")
        .values_list("decision", flat=True)
        .first()
    )
    return Decision.WITHDRAWN if last == Decision.GRANTED else Decision.REFUSED


@transaction.atomic
def text_publish(*, purpose: Purpose, text: str, requires_reconsent: bool) -> PurposeText:
    """Publish a new version of a purpose's text; with `requires_reconsent`, grants move to needs re-consent."""
    if not text.strip():
        raise ValidationError({"text": "The text is empty."})
    last_version = purpose.texts.order_by("-version").values_list("version", flat=True).first() or 0
    purpose.texts.filter(status=PurposeText.Status.ACTIVE).update(status=PurposeText.Status.ARCHIVED)
    new = PurposeText.objects.create(
        purpose=purpose,
        version=last_version + 1,
        text=text,
        status=PurposeText.Status.ACTIVE,
        requires_reconsent=requires_reconsent,
        published_at=timezone.now(),
    )
    if requires_reconsent:
        ConsentState.objects.filter(purpose=purpose, state=State.GRANTED).update(
            state=State.NEEDS_RECONSENT, updated_at=timezone.now()
        )
    return new


def consenting_students(purpose: Purpose) -> Any:
    """The students with a granted consent for `purpose`, as a subquery of ids."""
    return ConsentState.objects.filter(purpose=purpose, state=State.GRANTED).values("student_id")


def history(student: Student, purpose: Purpose) -> list[ConsentDecision]:
    return list(
        ConsentDecision.objects.filter(student=student, purpose=purpose)
        .select_related("guardian__user", "text", "recorded_by")
        .order_by("-created_at", "-id")
    )
