"""What the students app holds about people, and how it exports and erases it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from harmony.sync.changes import changes_by
from harmony.sync.idempotency import forget_answers_about
from privacy.registry import Declaration, Subject
from students.models import Guardian, Guardianship, Student
from students.services import student_delete

DECLARATIONS = [
    Declaration(
        model="students.Student",
        fields=(
            "roll_number",
            "first_name",
            "last_name",
            "email",
            "date_of_birth",
            "gender",
            "class_group",
            "status",
            "enrolled_on",
            "left_on",
            "address",
            "medical_notes",
            "support_notes",
        ),
        category="student_record",
        purpose="Educating the child and keeping them safe",
        retention="Until the student leaves, then the school's records policy (student_record)",
        lawful_basis="public_task",
    ),
    Declaration(
        model="students.Guardian",
        fields=("user", "phone", "address"),
        category="guardian_contact",
        purpose="Contacting the family",
        retention="While a child of theirs is at the school",
        lawful_basis="public_task",
    ),
    Declaration(
        model="students.Guardianship",
        fields=("guardian", "student", "relationship", "parental_responsibility", "primary_contact"),
        category="guardian_contact",
        purpose="Knowing who may decide for a child and whom to call",
        retention="While the child is at the school",
        lawful_basis="public_task",
    ),
    Declaration(
        model="students.ClassGroup",
        fields=("form_tutor", "teachers"),
        category="staff_record",
        purpose="Organising teaching",
        retention="While the member of staff works at the school",
        lawful_basis="contract",
    ),
    Declaration(
        model="harmony.IdempotentRequest",
        fields=("answer", "subjects"),
        category="sync_answer",
        purpose="Answering a partner's retried sync request as the first time, so that nothing is applied twice",
        retention="24 hours; at once when a student it names is erased",
        lawful_basis="public_task",
    ),
    Declaration(
        model="harmony.User",
        fields=("username", "first_name", "last_name", "email", "last_login", "date_joined"),
        category="account",
        purpose="Signing in to Harmony",
        retention="While the person has a reason to sign in",
        lawful_basis="public_task",
    ),
]


def _guardian_name(guardian: Guardian, requester: Any) -> str:
    if requester is not None and guardian.user_id == getattr(requester, "pk", None):
        return guardian.user.get_full_name()
    return "another guardian"


def _student_data(student: Student) -> dict[str, Any]:
    return {
        "id": student.pk,
        "rollNumber": student.roll_number,
        "firstName": student.first_name,
        "lastName": student.last_name,
        "email": student.email,
        "dateOfBirth": student.date_of_birth.isoformat() if student.date_of_birth else None,
        "gender": student.gender,
        "classGroup": student.class_group.name if student.class_group else None,
        "status": student.status,
        "enrolledOn": student.enrolled_on.isoformat() if student.enrolled_on else None,
        "leftOn": student.left_on.isoformat() if student.left_on else None,
        "address": student.address,
        "medicalNotes": student.medical_notes,
        "supportNotes": student.support_notes,
    }


def export(subject: Subject) -> dict[str, Any]:
    if subject.student is not None:
        student = Student.objects.select_related("class_group").get(pk=subject.student.pk)
        links = Guardianship.objects.filter(student=student).select_related("guardian__user")
        return {
            "student": _student_data(student),
            "guardians": [
                {
                    "guardian": _guardian_name(link.guardian, subject.requester),
                    "relationship": link.relationship,
                    "parentalResponsibility": link.parental_responsibility,
                    "primaryContact": link.primary_contact,
                }
                for link in links
            ],
        }
    user = get_user_model().objects.get(pk=subject.user.pk)
    data: dict[str, Any] = {
        "account": {
            "username": user.username,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "email": user.email,
            "dateJoined": user.date_joined.isoformat(),
            "lastLogin": user.last_login.isoformat() if user.last_login else None,
        }
    }
    guardian = Guardian.objects.filter(user=user).first()
    if guardian is not None:
        data["guardian"] = {"phone": guardian.phone, "address": guardian.address}
        data["children"] = [
            {
                "studentId": link.student_id,
                "firstName": link.student.first_name,
                "relationship": link.relationship,
                "parentalResponsibility": link.parental_responsibility,
                "primaryContact": link.primary_contact,
            }
            for link in guardian.guardianships.select_related("student")
        ]
    return data


@transaction.atomic
def erase(subject: Subject) -> dict[str, Any]:
    if subject.student is not None:
        student = Student.objects.get(pk=subject.student.pk)
        forget_answers_about([student.pk])  # sync answers replayed on retries that carried the child's data
        if student.deleted_at is None:
            with changes_by("privacy"):
                student_delete(student=student)
        else:
            Student.objects.filter(pk=student.pk).update(
                first_name="",
                last_name="",
                email="",
                date_of_birth=None,
                address="",
                medical_notes="",
                support_notes="",
            )
        return {
            "erased": [
                "name, e-mail, date of birth, gender, class, dates, address, medical and support notes",
                "links to guardians",
            ],
            "kept": [
                {
                    "what": "the roll number, on the suppression list",
                    "why": "so that a partner system's next sync cannot bring the erased child back",
                }
            ],
        }
    user = get_user_model().objects.get(pk=subject.user.pk)
    Guardian.objects.filter(user=user).delete()  # guardianships go with it
    user.username = f"erased-{user.pk}"
    user.first_name = user.last_name = user.email = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    return {
        "erased": ["account name and e-mail", "phone and address", "links to children"],
        "kept": [
            {"what": "an inactive account number", "why": "records kept by law (registers) still point to it"},
        ],
    }


def apply_retention(policy: Any, cutoff: Any, dry_run: bool) -> int:
    """Students who left on or before the cutoff are erased as an erasure request would, in batches."""
    if policy.category != "student_record" or policy.anchor != "student_left":
        return 0
    from privacy.registry import providers
    from privacy.retention import batch_size

    due = Student.objects.live().filter(status=Student.Status.LEFT, left_on__lte=timezone.localdate(cutoff))
    if dry_run:
        return due.count()
    count, last = 0, 0
    while batch := list(due.filter(pk__gt=last).order_by("pk")[: batch_size()]):
        for student in batch:
            subject = Subject(student=student)
            with transaction.atomic():  # a student is erased by every app, or not at all
                for provider in providers():
                    provider.erase(subject)
        count, last = count + len(batch), batch[-1].pk
    return count
