"""A family for the privacy tests, the privacy officer, and partners registered for purposes.

The family is the shared school's child A (Amira Ahmed) with two guardians who both hold parental
responsibility: her mother Fatima Ahmed (the school's guardian persona) and her father Yusuf Karim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from harmony.models import Application, User
from harmony.roles import Role
from privacy import consent
from privacy.models import ConsentDecision, PartnerPurpose, Purpose
from students.models import Guardian, Guardianship, Student
from tests.conftest import School, client_with, obtain_token
from tests.factories import make_guardian, make_partner, make_user


@dataclass
class Family:
    child: Student
    mother: Guardian
    father: Guardian


@pytest.fixture
def family(school: School) -> Family:
    father = make_guardian(user=make_user("father@family.test", first_name="Yusuf", last_name="Karim"))
    Guardianship.objects.create(guardian=father, student=school.child_a, relationship="father")
    return Family(child=school.child_a, mother=school.guardian, father=father)


@pytest.fixture
def officer(db: Any) -> User:
    return make_user("dpo@school.test", Role.PRIVACY_OFFICER, first_name="Priya", last_name="Officer")


def purpose(code: str) -> Purpose:
    return Purpose.objects.get(code=code)


def decide(student: Student, code: str, guardian: Guardian, decision: str) -> ConsentDecision:
    return consent.consent_record(
        student=student,
        purpose=purpose(code),
        guardian=guardian,
        decision=decision,
        method=ConsentDecision.Method.FAMILY_PAGE,
    )


def grant(student: Student, code: str, guardian: Guardian) -> ConsentDecision:
    return decide(student, code, guardian, ConsentDecision.Decision.GRANTED)


@pytest.fixture
def registered_partner(db: Any) -> Callable[..., APIClient]:
    """Return a client-credentials client for a new partner registered for `purposes` (the first by default
    when `default` is true), holding `scopes`."""

    def make(*purposes: str, scopes: str = "students:read attendance:read", default: bool = True) -> APIClient:
        app, secret = make_partner(scopes, name="Registered partner")
        for index, code in enumerate(purposes):
            PartnerPurpose.objects.create(application=app, purpose=purpose(code), is_default=default and index == 0)
        token = obtain_token({"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret})
        client = client_with(token["access_token"])
        client.application = app  # type: ignore[attr-defined]
        return client

    return make


def register_purposes(application: Application, *codes: str) -> None:
    for index, code in enumerate(codes):
        PartnerPurpose.objects.create(application=application, purpose=purpose(code), is_default=index == 0)
