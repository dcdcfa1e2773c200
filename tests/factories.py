"""Small factories for tests: real rows in the real database, no mocks."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from django.contrib.auth.models import Group

from harmony.management.commands.create_partner_app import register_partner_app
from harmony.models import Application, User
from harmony.roles import Role
from students.models import ClassGroup, Guardian, Guardianship, Student

PASSWORD = "correct-horse-battery-staple"
_numbers = itertools.count(1)


def make_user(username: str | None = None, *roles: Role, **extra: Any) -> User:
    username = username or f"user{next(_numbers)}@example.org"
    user = User.objects.create_user(username=username, email=username, password=PASSWORD, **extra)
    if roles:
        user.groups.set([Group.objects.get_or_create(name=role.value)[0] for role in roles])
    return user


def make_class_group(name: str | None = None, *, year_group: int = 7, tutor: User | None = None) -> ClassGroup:
    return ClassGroup.objects.create(name=name or f"G{next(_numbers)}", year_group=year_group, form_tutor=tutor)


def make_student(class_group: ClassGroup | None = None, **fields: Any) -> Student:
    n = next(_numbers)
    values = {
        "roll_number": f"R{n:05d}",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "date_of_birth": date(2012, 1, 1),
        "class_group": class_group,
        **fields,
    }
    return Student.objects.create(**values)


def make_guardian(*children: Student, user: User | None = None, **fields: Any) -> Guardian:
    guardian = Guardian.objects.create(user=user or make_user(first_name="Parent", last_name="Person"), **fields)
    for child in children:
        Guardianship.objects.create(guardian=guardian, student=child, relationship="mother", primary_contact=True)
    return guardian


def make_partner(scopes: str, *, grant: str = "client-credentials", name: str = "Partner") -> tuple[Application, str]:
    credentials = register_partner_app(name=name, scopes=scopes.split(), grant=grant)
    return Application.objects.get(client_id=credentials["client_id"]), credentials["client_secret"]
