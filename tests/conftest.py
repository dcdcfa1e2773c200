"""Personas and real OAuth2 tokens shared by every test.

The school: class groups A and B; a teacher of A and a colleague who teaches B; an administrator and an
office member; a guardian of a child in A and an outsider guardian of a child in B; partner applications with
the scopes each test names. Tokens come from the real token endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from harmony.models import Application, User
from harmony.roles import Role
from students.models import ClassGroup, Guardian, Student
from tests.factories import PASSWORD, make_class_group, make_guardian, make_partner, make_student, make_user


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings: Any) -> Any:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "harmony.hashers.ClientSecretHasher"]
    cache.clear()  # rate-limit counters must not leak between tests
    yield
    cache.clear()


@dataclass
class School:
    admin: User
    office: User
    teacher: User
    colleague: User
    class_a: ClassGroup
    class_b: ClassGroup
    child_a: Student
    child_b: Student
    guardian: Guardian
    outsider: Guardian


@pytest.fixture
def school(db: Any) -> School:
    teacher = make_user("teacher@school.test", Role.TEACHER, first_name="Tara", last_name="Teacher")
    colleague = make_user("colleague@school.test", Role.TEACHER, first_name="Colin", last_name="Colleague")
    class_a = make_class_group("7A", tutor=teacher)
    class_b = make_class_group("7B", tutor=colleague)
    child_a = make_student(class_a, first_name="Amira", last_name="Ahmed", roll_number="A0001")
    child_b = make_student(class_b, first_name="Bilal", last_name="Brown", roll_number="B0001")
    guardian_user = make_user("parent@family.test", first_name="Fatima", last_name="Ahmed")
    outsider_user = make_user("other@family.test", first_name="Olivia", last_name="Brown")
    return School(
        admin=make_user("admin@school.test", Role.ADMINISTRATOR, first_name="Ada", last_name="Admin", is_staff=True),
        office=make_user("office@school.test", Role.OFFICE, first_name="Owen", last_name="Office"),
        teacher=teacher,
        colleague=colleague,
        class_a=class_a,
        class_b=class_b,
        child_a=child_a,
        child_b=child_b,
        guardian=make_guardian(child_a, user=guardian_user, phone="07700900001"),
        outsider=make_guardian(child_b, user=outsider_user, phone="07700900002"),
    )


def obtain_token(data: dict[str, str]) -> dict[str, Any]:
    response = APIClient().post("/api/oauth/token", data)
    assert response.status_code == 200, response.content
    return response.json()


def client_with(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


@pytest.fixture
def partner_api(db: Any) -> Callable[[str], APIClient]:
    """Return an API client holding a client-credentials token for a new partner with `scopes`."""

    def make(scopes: str) -> APIClient:
        app, secret = make_partner(scopes)
        token = obtain_token({"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret})
        client = client_with(token["access_token"])
        client.application = app  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def password_app(db: Any) -> tuple[Application, str]:
    return make_partner(
        "students:read students:write attendance:read attendance:write notifications:read notifications:write privacy",
        grant="password",
        name="Trusted app",
    )


@pytest.fixture
def user_api(password_app: tuple[Application, str]) -> Callable[..., APIClient]:
    """Return an API client holding a password-grant token for `user` (the guide's client signs in this way)."""
    app, secret = password_app

    def make(user: User, scope: str | None = None) -> APIClient:
        data = {
            "grant_type": "password",
            "username": user.username,
            "password": PASSWORD,
            "client_id": app.client_id,
            "client_secret": secret,
        }
        if scope:
            data["scope"] = scope
        return client_with(obtain_token(data)["access_token"])

    return make


@pytest.fixture
def persona_api(school: School, user_api: Callable[..., APIClient], partner_api: Callable[[str], APIClient]):
    """Return a client for a named persona: a user of the school or a partner ('partner' has every scope)."""

    def make(name: str, scope: str | None = None) -> APIClient:
        if name == "partner":
            return partner_api(scope or "students:read students:write")
        if name == "partner-without-scope":
            return partner_api("attendance:read")
        users = {
            "admin": school.admin,
            "office": school.office,
            "teacher": school.teacher,
            "colleague": school.colleague,
            "guardian": school.guardian.user,
            "outsider": school.outsider.user,
        }
        return user_api(users[name], scope)

    return make
