"""The demo school: `manage.py seed_demo` fills an empty database and prints logins that really work."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from rest_framework.test import APIClient

from harmony.models import Application, User
from harmony.roles import Role
from students.management.commands.seed_demo import DEMO_PASSWORD
from students.models import ClassGroup, Guardian, Guardianship, Student
from tests.conftest import client_with
from tests.factories import make_student, make_user

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_credentials(output: str) -> dict[str, dict[str, Any]]:
    """Return the JSON lines of the two general demo applications, by grant (the MIS and the parent app)."""
    found = {}
    for line in output.splitlines():
        if line.strip().startswith("{"):
            item = json.loads(line)
            if "needs consent" not in item["name"]:
                found[item["grant"]] = item
    return found


def printed_logins(output: str) -> dict[str, str]:
    """Return the printed demo accounts, by role as printed."""
    logins = {}
    for role in ("administrator", "office", "privacy officer", "teacher of 7A", "parent"):
        match = re.search(rf"^\s+{role}\s+(\S+@\S+)", output, re.MULTILINE)
        assert match, f"no {role} login in:\n{output}"
        logins[role] = match.group(1)
    return logins


def token_response(data: dict[str, str]) -> Any:
    return APIClient().post("/api/oauth/token", data)


@pytest.fixture
def seeded() -> str:
    return seed()


class TestOnAnEmptyDatabase:
    def test_it_creates_about_600_students_in_24_class_groups(self, seeded):
        assert ClassGroup.objects.count() == 24
        assert 550 <= Student.objects.count() <= 650
        sizes = ClassGroup.objects.annotate(size=Count("students")).values_list("size", flat=True)
        assert all(size > 0 for size in sizes)
        assert not Student.objects.filter(class_group__isnull=True).exists()
        assert f"{Student.objects.count()} students" in seeded

    def test_every_student_has_a_guardian_with_parental_responsibility(self, seeded):
        without = Student.objects.exclude(
            pk__in=Guardianship.objects.filter(parental_responsibility=True).values("student_id")
        )
        assert not without.exists()
        assert Guardian.objects.count() >= Student.objects.count() / 3

    def test_every_class_group_has_a_teacher_as_tutor(self, seeded):
        assert not ClassGroup.objects.filter(form_tutor__isnull=True).exists()
        for group in ClassGroup.objects.select_related("form_tutor"):
            assert group.form_tutor.has_role(Role.TEACHER)

    def test_there_is_staff_in_every_role(self, seeded):
        for role in Role:
            assert User.objects.filter(groups__name=role.value).exists(), role

    def test_personal_fields_are_filled_and_sealed(self, seeded):
        student = Student.objects.first()
        assert student.date_of_birth and student.address
        assert Guardian.objects.exclude(phone="").count() == Guardian.objects.count()

    def test_it_registers_the_demo_partner_apps(self, seeded):
        # the school's MIS, a parent app signing users in, and a trip organiser that acts for a consent purpose
        assert Application.objects.count() == 3
        assert set(Application.objects.values_list("authorization_grant_type", flat=True)) == {
            "client-credentials",
            "password",
        }
        organiser = Application.objects.get(name__contains="needs consent")
        assert organiser.purposes.get().purpose.code == "thirdPartySharing"

    def test_the_printed_partner_credentials_work_at_the_token_endpoint(self, seeded):
        credentials = printed_credentials(seeded)
        assert set(credentials) == {"client-credentials", "password"}

        system = credentials["client-credentials"]
        response = token_response(
            {
                "grant_type": "client_credentials",
                "client_id": system["client_id"],
                "client_secret": system["client_secret"],
            }
        )
        assert response.status_code == 200, response.content
        assert response.json()["scope"].split() == system["scopes"]
        students = client_with(response.json()["access_token"]).get("/api/students").json()
        assert students["count"] == Student.objects.count()

        parent_app = credentials["password"]
        parent = printed_logins(seeded)["parent"]
        response = token_response(
            {
                "grant_type": "password",
                "client_id": parent_app["client_id"],
                "client_secret": parent_app["client_secret"],
                "username": parent,
                "password": DEMO_PASSWORD,
            }
        )
        assert response.status_code == 200, response.content
        children = client_with(response.json()["access_token"]).get("/api/students").json()
        assert children["count"] >= 1
        assert children["count"] == Student.objects.filter(guardianships__guardian__user__username=parent).count()

    def test_the_printed_staff_logins_sign_in(self, seeded, client):
        assert DEMO_PASSWORD in seeded
        logins = printed_logins(seeded)
        for role in ("administrator", "office", "privacy officer", "teacher of 7A"):
            client.logout()
            response = client.post("/staff/login/", {"username": logins[role], "password": DEMO_PASSWORD})
            assert response.status_code == 302, (role, response.content[:300])
        teacher = User.objects.get(username=logins["teacher of 7A"])
        assert ClassGroup.objects.get(name="7A").form_tutor == teacher

    def test_the_printed_parent_signs_in_to_the_family_pages(self, seeded, client):
        response = client.post(
            "/family/login/", {"username": printed_logins(seeded)["parent"], "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302


class TestRunAgain:
    def test_it_keeps_the_data_and_prints_fresh_secrets_that_work(self, seeded):
        before = {
            "students": list(Student.objects.order_by("pk").values_list("pk", "roll_number")),
            "users": User.objects.count(),
            "guardianships": Guardianship.objects.count(),
            "apps": list(Application.objects.order_by("pk").values_list("pk", "client_id")),
        }
        first = printed_credentials(seeded)

        again = seed()

        assert list(Student.objects.order_by("pk").values_list("pk", "roll_number")) == before["students"]
        assert User.objects.count() == before["users"]
        assert Guardianship.objects.count() == before["guardianships"]
        assert list(Application.objects.order_by("pk").values_list("pk", "client_id")) == before["apps"]

        second = printed_credentials(again)
        assert set(second) == {"client-credentials", "password"}
        for grant in second:
            assert second[grant]["client_id"] == first[grant]["client_id"]
            assert second[grant]["client_secret"] != first[grant]["client_secret"]

        system = {"grant_type": "client_credentials", "client_id": second["client-credentials"]["client_id"]}
        fresh = token_response({**system, "client_secret": second["client-credentials"]["client_secret"]})
        assert fresh.status_code == 200, fresh.content
        stale = token_response({**system, "client_secret": first["client-credentials"]["client_secret"]})
        assert stale.status_code == 401

        parent_app = second["password"]
        response = token_response(
            {
                "grant_type": "password",
                "client_id": parent_app["client_id"],
                "client_secret": parent_app["client_secret"],
                "username": printed_logins(again)["parent"],
                "password": DEMO_PASSWORD,
            }
        )
        assert response.status_code == 200, response.content

    def test_fresh_secrets_are_stored_hashed(self, seeded):
        again = printed_credentials(seed())
        for item in again.values():
            stored = Application.objects.get(client_id=item["client_id"]).client_secret
            assert stored.startswith("client_secret_sha256$")
            assert item["client_secret"] not in stored


class TestOnADatabaseWithOtherData:
    @pytest.mark.parametrize("make", [lambda: make_user("head@school.test"), lambda: make_student()])
    def test_it_refuses_and_creates_nothing(self, make):
        make()
        counts = (Student.objects.count(), User.objects.count(), ClassGroup.objects.count())
        with pytest.raises(CommandError, match="not the demo school"):
            seed()
        assert (Student.objects.count(), User.objects.count(), ClassGroup.objects.count()) == counts
        assert not Application.objects.exists()
        assert not Guardian.objects.exists()
        assert not User.objects.filter(Q(username__endswith="demo.darul-arkam.example")).exists()
