"""Students, their class groups, their guardians and who is responsible for whom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from harmony.fields import EncryptedDateField, EncryptedTextField

if TYPE_CHECKING:
    from harmony.models import Application, User
    from privacy.models import Purpose


def consent_purpose(actor: object) -> Purpose | None:
    """Return the purpose a request acts for when that purpose requires consent, else None.

    The privacy app attaches the purpose of a partner request to its actor (`data_purpose`) and keeps each
    child's derived consent state, so that visibility can filter with one join.
    """
    purpose = getattr(actor, "data_purpose", None)
    return purpose if purpose is not None and purpose.requires_consent else None


class ClassGroupQuerySet(models.QuerySet["ClassGroup"]):
    def taught_by(self, user: User) -> ClassGroupQuerySet:
        """Return the class groups `user` tutors or teaches."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(pk__in=self.filter(Q(form_tutor=user) | Q(teachers=user)).values("pk"))

    def visible_to(self, actor: User | Application | None) -> ClassGroupQuerySet:
        """Whole-school staff and partners see every class group; a teacher the groups they teach."""
        from harmony.models import Application

        if isinstance(actor, Application) or (actor is not None and getattr(actor, "sees_whole_school", False)):
            return self.all()
        if actor is None or not actor.is_authenticated or not actor.has_role("teacher"):
            return self.none()
        return self.taught_by(actor)


class ClassGroup(models.Model):
    """A form or class: the unit a register is taken for and a teacher is responsible for."""

    name = models.CharField(max_length=50, unique=True)
    year_group = models.PositiveSmallIntegerField()
    form_tutor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tutor_groups"
    )
    teachers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="taught_groups")

    objects = ClassGroupQuerySet.as_manager()

    class Meta:
        ordering = ["year_group", "name"]

    def __str__(self) -> str:
        return self.name


class StudentQuerySet(models.QuerySet["Student"]):
    def live(self) -> StudentQuerySet:
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, actor: User | Application | None) -> StudentQuerySet:
        """Return the live students `actor` may see: the one place that decides it.

        Whole-school staff see everyone; a teacher sees the class groups they tutor or teach; a guardian sees
        their own children; a partner application sees everyone (its scopes limit what it may read). Anyone else
        sees no one. A request through a partner application acting for a purpose that requires consent, made
        with the application's own token or with a user's, leaves out every child without a granted consent.
        """
        from harmony.models import Application

        live = self.live()
        if (purpose := consent_purpose(actor)) is not None:
            live = live.filter(consent_states__purpose=purpose, consent_states__state="granted")
        if isinstance(actor, Application):
            return live
        if actor is None or not actor.is_authenticated or not actor.is_active:
            return live.none()
        if actor.sees_whole_school:
            return live
        visible = Q(guardianships__guardian__user=actor)
        if actor.has_role("teacher"):
            visible |= Q(class_group__in=ClassGroup.objects.taught_by(actor))
        return live.filter(pk__in=self.filter(visible).values("pk"))


class Student(models.Model):
    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNDISCLOSED = "undisclosed", "Prefer not to say"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LEFT = "left", "Left"

    roll_number = models.CharField(max_length=32, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True)
    gender = models.CharField(max_length=12, choices=Gender.choices, blank=True)
    class_group = models.ForeignKey(
        ClassGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="students"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    enrolled_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)
    address = EncryptedTextField(blank=True)
    medical_notes = EncryptedTextField(blank=True)
    support_notes = EncryptedTextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = StudentQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["class_group", "status"]),
        ]

    def __str__(self) -> str:
        if self.deleted_at:
            return f"{self.roll_number} (deleted)"
        return f"{self.first_name} {self.last_name} ({self.roll_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class GuardianQuerySet(models.QuerySet["Guardian"]):
    def visible_to(self, actor: User | Application | None) -> GuardianQuerySet:
        """Return the guardians `actor` may see.

        Whole-school staff and partner applications see every guardian, a teacher the guardians of the
        students they teach, and a guardian only themself (not the other parent). Acting for a purpose that
        requires consent, only the guardians of children with a granted consent: any other would name a
        child the partner may not know about.
        """
        guardians = self._visible_to(actor)
        if consent_purpose(actor) is not None:
            linked = Guardianship.objects.filter(student__in=Student.objects.visible_to(actor)).values("guardian_id")
            guardians = guardians.filter(pk__in=linked)
        return guardians

    def _visible_to(self, actor: User | Application | None) -> GuardianQuerySet:
        from harmony.models import Application

        if isinstance(actor, Application):
            return self.all()
        if actor is None or not actor.is_authenticated or not actor.is_active:
            return self.none()
        if actor.sees_whole_school:
            return self.all()
        visible = Q(user=actor)
        if actor.has_role("teacher"):
            taught = Student.objects.visible_to(actor)
            visible |= Q(pk__in=Guardianship.objects.filter(student__in=taught).values("guardian_id"))
        return self.filter(visible)


class Guardian(models.Model):
    """A parent or carer: a user account plus contact details the school keeps encrypted."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guardian")
    phone = EncryptedTextField(blank=True)
    address = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GuardianQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name", "id"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.username


class Guardianship(models.Model):
    class Relationship(models.TextChoices):
        MOTHER = "mother", "Mother"
        FATHER = "father", "Father"
        CARER = "carer", "Carer"
        GRANDPARENT = "grandparent", "Grandparent"
        OTHER = "other", "Other"

    guardian = models.ForeignKey(Guardian, on_delete=models.CASCADE, related_name="guardianships")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardianships")
    relationship = models.CharField(max_length=12, choices=Relationship.choices)
    parental_responsibility = models.BooleanField(default=True)
    primary_contact = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["student_id", "-primary_contact", "id"]
        constraints = [
            models.UniqueConstraint(fields=["guardian", "student"], name="one_guardianship_per_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.guardian} → {self.student}"

    @classmethod
    def visible_to(cls, actor: User | Application | None) -> models.QuerySet[Guardianship]:
        """Return the guardianships of the students `actor` may see."""
        return cls.objects.filter(student__in=Student.objects.visible_to(actor))
