"""Reads of students, guardians and guardianships. Every one starts from `visible_to`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Prefetch, Q, QuerySet

from students.models import ClassGroup, Guardian, Guardianship, Student

if TYPE_CHECKING:
    from harmony.models import Application, User

    Actor = User | Application | None


def student_list(
    *,
    actor: Actor,
    search: str = "",
    class_group: str = "",
    status: str = "",
    updated_since: datetime | None = None,
) -> QuerySet[Student]:
    """Return the students `actor` may see, filtered; `class_group` is an id or a name."""
    students = Student.objects.visible_to(actor).select_related("class_group")
    if search:
        words = search.split()
        for word in words:
            students = students.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(roll_number__icontains=word)
            )
    if class_group:
        by = Q(class_group_id=int(class_group)) if class_group.isdigit() else Q(class_group__name__iexact=class_group)
        students = students.filter(by)
    if status:
        students = students.filter(status=status)
    if updated_since:
        students = students.filter(updated_at__gte=updated_since)
    return students


def student_get(*, actor: Actor, pk: int) -> Student:
    """Return one visible student; anything else (another family's child, a tombstone) is DoesNotExist."""
    return Student.objects.visible_to(actor).select_related("class_group").get(pk=pk)


def children_of(user: User) -> QuerySet[Student]:
    return Student.objects.live().filter(guardianships__guardian__user=user).select_related("class_group")


def guardian_list(*, actor: Actor) -> QuerySet[Guardian]:
    visible_links = Guardianship.objects.select_related("student").filter(student__deleted_at__isnull=True)
    return (
        Guardian.objects.visible_to(actor)
        .select_related("user")
        .prefetch_related(Prefetch("guardianships", queryset=visible_links))
    )


def guardianship_list(*, actor: Actor) -> QuerySet[Guardianship]:
    links = Guardianship.visible_to(actor).select_related("guardian__user", "student")
    if actor is not None and not hasattr(actor, "scope_set") and not actor.is_school_staff:
        links = links.filter(guardian__user=actor)  # a guardian sees their own links, not the other parent's
    return links


def school_figures() -> dict[str, int]:
    """Return the numbers on the staff dashboard, in two queries."""
    students = Student.objects.live().aggregate(
        total=Count("id"), active=Count("id", filter=Q(status=Student.Status.ACTIVE))
    )
    return {
        "students": students["total"],
        "active_students": students["active"],
        "class_groups": ClassGroup.objects.count(),
        "guardians": Guardian.objects.count(),
    }
