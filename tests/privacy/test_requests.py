"""Privacy requests: asking, the officer's decision, processing by tasks, exports that expire, and retries."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

import privacy.privacy
import students.privacy
from harmony.errors import Conflict
from privacy import selectors, services
from privacy.models import PrivacyRequest
from privacy.registry import providers
from privacy.tasks import process_privacy_request
from tests.privacy.conftest import decide, grant
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime.datetime(2027, 3, 10, 10, 0, tzinfo=LONDON)
Status = PrivacyRequest.Status


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ask(kind: str, user, *, student=None) -> PrivacyRequest:
    return services.request_create(kind=kind, requested_by=user, via=PrivacyRequest.Via.FAMILY_PAGE, student=student)


def approve(officer, request: PrivacyRequest) -> PrivacyRequest:
    services.request_decide(officer=officer, request=request, approve=True)
    run_queued_tasks()
    request.refresh_from_db()
    return request


def read_zip(request: PrivacyRequest) -> dict[str, Any]:
    path = services.export_dir() / request.export_file
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


def assert_error(response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False and body["code"] == code
    return body


class TestAsking:
    def test_a_request_is_due_thirty_days_after_it_was_made(self, family, frozen):
        request = ask("export", family.mother.user, student=family.child)
        assert request.status == Status.PENDING
        assert request.due_on == datetime.date(2027, 4, 9)
        assert request.due_on == timezone.localdate(request.created_at) + datetime.timedelta(days=30)

    def test_a_guardian_asks_about_themself_without_naming_anyone(self, family):
        request = ask("erasure", family.mother.user)
        assert (request.subject_user, request.subject_student) == (family.mother.user, None)

    def test_only_one_request_of_a_kind_is_open_per_subject(self, family):
        first = ask("export", family.mother.user, student=family.child)
        with pytest.raises(Conflict) as error:
            ask("export", family.father.user, student=family.child)  # the other parent, the same child
        assert error.value.extra["existingId"] == first.pk
        ask("erasure", family.mother.user, student=family.child)  # another kind
        ask("export", family.mother.user)  # another subject: herself

    def test_a_finished_request_lets_a_new_one_be_made(self, family, officer):
        approve(officer, ask("export", family.mother.user, student=family.child))
        ask("export", family.mother.user, student=family.child)

    def test_a_guardian_cannot_ask_about_another_familys_child(self, family, school):
        with pytest.raises(PermissionDenied):
            ask("export", family.mother.user, student=school.child_b)
        assert not PrivacyRequest.objects.exists()

    def test_a_guardian_cannot_ask_about_another_person(self, family):
        with pytest.raises(PermissionDenied):
            services.request_create(
                kind="erasure", requested_by=family.mother.user, via="family_page", subject_user=family.father.user
            )

    def test_staff_ask_on_behalf_of_a_family(self, family, school):
        request = services.request_create(
            kind="export", requested_by=school.office, via=PrivacyRequest.Via.STAFF, subject_user=family.father.user
        )
        assert request.subject_user == family.father.user

    def test_an_unknown_kind_is_refused(self, family):
        with pytest.raises(ValidationError):
            ask("rectification", family.mother.user)


class TestDeciding:
    @pytest.mark.parametrize("who", ["office", "teacher", "guardian"])
    def test_only_the_privacy_officer_or_an_administrator_decides(self, family, school, who):
        request = ask("export", family.mother.user)
        deciders = {"office": school.office, "teacher": school.teacher, "guardian": family.mother.user}
        with pytest.raises(PermissionDenied):
            services.request_decide(officer=deciders[who], request=request, approve=True)
        request.refresh_from_db()
        assert request.status == Status.PENDING
        assert not DBTaskResult.objects.exists()

    def test_an_administrator_may_decide(self, family, school):
        request = services.request_decide(officer=school.admin, request=ask("export", family.mother.user), approve=True)
        assert (request.status, request.decided_by) == (Status.APPROVED, school.admin)

    def test_a_rejection_needs_a_reason(self, family, officer):
        request = ask("erasure", family.mother.user, student=family.child)
        with pytest.raises(ValidationError):
            services.request_decide(officer=officer, request=request, approve=False, reason="  ")
        rejected = services.request_decide(
            officer=officer, request=request, approve=False, reason="Records are under a legal hold."
        )
        assert (rejected.status, rejected.decision_reason) == (Status.REJECTED, "Records are under a legal hold.")
        assert run_queued_tasks() == 0  # nothing to process

    def test_a_request_is_decided_once(self, family, officer):
        request = ask("export", family.mother.user)
        services.request_decide(officer=officer, request=request, approve=True)
        with pytest.raises(Conflict):
            services.request_decide(officer=officer, request=request, approve=False, reason="Changed my mind")


class TestExport:
    def test_an_approved_export_becomes_ready_for_seven_days(self, family, officer, frozen):
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        assert request.status == Status.READY
        assert request.completed_at == NOW
        assert request.expires_at == NOW + datetime.timedelta(days=7)
        assert request.decided_by == officer
        assert (services.export_dir() / request.export_file).is_file()
        assert request.outcome == {"apps": sorted(p.app_label for p in providers())}  # no copy of the data
        assert request.steps_done == [p.app_label for p in providers()]

    def test_the_zip_holds_a_manifest_and_one_file_per_app(self, family, officer, frozen):
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        files = read_zip(request)
        apps = sorted(p.app_label for p in providers())
        assert sorted(files) == sorted(["manifest.json", *[f"{app}.json" for app in apps]])
        assert files["manifest.json"] == {
            "about": f"student {family.child.pk}",
            "requestedBy": family.mother.user.pk,
            "requestedAt": NOW.astimezone(datetime.UTC).isoformat(),
            "generatedAt": NOW.astimezone(datetime.UTC).isoformat(),
            "apps": apps,
            "files": [f"{app}.json" for app in apps],
        }

    def test_a_childs_export_names_the_requester_and_no_other_guardian(
        self, family, school, officer, registered_partner, frozen
    ):
        child = family.child
        child.address, child.medical_notes, child.email = "12 Orchard Lane", "Nut allergy", "amira@pupils.test"
        child.enrolled_on = datetime.date(2023, 9, 4)
        child.save()
        grant(child, "photosOnWebsite", family.mother)
        decide(child, "schoolTrips", family.father, "refused")
        registered_partner("attendanceReporting").get(f"/api/students/{child.pk}")

        files = read_zip(approve(officer, ask("export", family.mother.user, student=child)))

        at = NOW.astimezone(datetime.UTC).isoformat()
        assert files["students.json"] == {
            "student": {
                "id": child.pk,
                "rollNumber": "A0001",
                "firstName": "Amira",
                "lastName": "Ahmed",
                "email": "amira@pupils.test",
                "dateOfBirth": "2012-01-01",
                "gender": "",
                "classGroup": "7A",
                "status": "active",
                "enrolledOn": "2023-09-04",
                "leftOn": None,
                "address": "12 Orchard Lane",
                "medicalNotes": "Nut allergy",
                "supportNotes": "",
            },
            "guardians": [
                {
                    "guardian": "Fatima Ahmed",
                    "relationship": "mother",
                    "parentalResponsibility": True,
                    "primaryContact": True,
                },
                {
                    "guardian": "another guardian",
                    "relationship": "father",
                    "parentalResponsibility": True,
                    "primaryContact": False,
                },
            ],
        }
        assert files["privacy.json"] == {
            "consentDecisions": [
                {
                    "purpose": "photosOnWebsite",
                    "textVersion": 1,
                    "decision": "granted",
                    "method": "family_page",
                    "by": "Fatima Ahmed",
                    "at": at,
                },
                {
                    "purpose": "schoolTrips",
                    "textVersion": 1,
                    "decision": "refused",
                    "method": "family_page",
                    "by": "another guardian",
                    "at": at,
                },
            ],
            "disclosures": [
                {"application": "Registered partner", "purpose": "attendanceReporting", "what": "students", "at": at}
            ],
        }
        everything = json.dumps(files)
        for other_person in ("Yusuf", "Karim", "father@family.test", "Bilal", "Olivia"):
            assert other_person not in everything

    def test_a_guardians_own_export_holds_their_account_contacts_and_decisions(self, family, officer, frozen):
        mother = family.mother
        mother.address = "12 Orchard Lane"
        mother.save()
        grant(family.child, "photosOnWebsite", mother)
        decide(family.child, "photosOnWebsite", family.father, "refused")

        request = approve(officer, ask("export", mother.user))
        files = read_zip(request)

        at = NOW.astimezone(datetime.UTC).isoformat()
        user = mother.user
        user.refresh_from_db()
        assert files["students.json"] == {
            "account": {
                "username": "parent@family.test",
                "firstName": "Fatima",
                "lastName": "Ahmed",
                "email": "parent@family.test",
                "dateJoined": user.date_joined.isoformat(),
                "lastLogin": None,
            },
            "guardian": {"phone": "07700900001", "address": "12 Orchard Lane"},
            "children": [
                {
                    "studentId": family.child.pk,
                    "firstName": "Amira",
                    "relationship": "mother",
                    "parentalResponsibility": True,
                    "primaryContact": True,
                }
            ],
        }
        assert files["privacy.json"] == {
            "consentDecisionsMade": [
                {"studentId": family.child.pk, "purpose": "photosOnWebsite", "decision": "granted", "at": at}
            ],
            "privacyRequests": [{"kind": "export", "status": "processing", "at": at}],
        }
        assert "Karim" not in json.dumps(files)

    def test_the_requester_and_the_officer_may_download_and_no_one_else(self, family, school, officer):
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        assert services.export_download(request=request, user=family.mother.user).is_file()
        assert services.export_download(request=request, user=officer).is_file()
        for stranger in (family.father.user, school.outsider.user, school.teacher):
            with pytest.raises(PrivacyRequest.DoesNotExist):
                services.export_download(request=request, user=stranger)

    def test_after_seven_days_the_download_has_expired_and_the_file_is_gone(self, family, officer, frozen):
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        path = services.export_dir() / request.export_file

        frozen.move_to(NOW + datetime.timedelta(days=7) - datetime.timedelta(seconds=1))
        assert services.export_download(request=request, user=family.mother.user) == path
        assert services.expire_exports() == 0

        frozen.move_to(NOW + datetime.timedelta(days=7))
        with pytest.raises(Conflict) as error:
            services.export_download(request=request, user=family.mother.user)
        assert error.value.code == "expired"
        request.refresh_from_db()
        assert (request.status, request.export_file) == (Status.EXPIRED, "")
        assert not path.exists()

    def test_the_expiry_task_deletes_the_files_of_expired_exports(self, family, school, officer, frozen):
        old = approve(officer, ask("export", family.mother.user, student=family.child))
        frozen.move_to(NOW + datetime.timedelta(days=3))
        recent = approve(officer, ask("export", school.outsider.user, student=school.child_b))
        frozen.move_to(NOW + datetime.timedelta(days=8))

        assert services.expire_exports() == 1

        old.refresh_from_db()
        recent.refresh_from_db()
        assert old.status == Status.EXPIRED and not list(services.export_dir().glob(f"{old.download_token}*"))
        assert recent.status == Status.READY and (services.export_dir() / recent.export_file).is_file()

    def test_processing_again_changes_nothing(self, family, officer):
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        process_privacy_request.enqueue(request.pk)
        run_queued_tasks()
        again = PrivacyRequest.objects.get(pk=request.pk)
        assert (again.status, again.export_file, again.completed_at) == (
            Status.READY,
            request.export_file,
            request.completed_at,
        )
        assert len(list(services.export_dir().iterdir())) == 1


def fail_once(monkeypatch, module, name: str) -> list[int]:
    """Make `module.name` raise on its first call and behave on the next ones; return the list of calls."""
    real = getattr(module, name)
    calls: list[int] = []

    def flaky(subject):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(subject)

    monkeypatch.setattr(module, name, flaky)
    return calls


def count_calls(monkeypatch, module, name: str) -> list[int]:
    real = getattr(module, name)
    calls: list[int] = []

    def counted(subject):
        calls.append(1)
        return real(subject)

    monkeypatch.setattr(module, name, counted)
    return calls


class TestFailureAndRetry:
    def test_a_failed_step_marks_the_request_failed_with_its_error(self, family, officer, monkeypatch):
        fail_once(monkeypatch, students.privacy, "erase")
        request = approve(officer, ask("erasure", family.mother.user, student=family.child))
        assert request.status == Status.FAILED
        assert request.last_error == "students: RuntimeError: the database went away"
        assert "students" not in request.steps_done
        assert "privacy" in request.steps_done
        family.child.refresh_from_db()
        assert family.child.first_name == "Amira"  # the failed step changed nothing
        assert request in selectors.request_queue()["open"]

    def test_a_retry_resumes_without_redoing_the_finished_steps(self, family, officer, monkeypatch):
        failing = fail_once(monkeypatch, students.privacy, "erase")
        privacy_erasures = count_calls(monkeypatch, privacy.privacy, "erase")
        request = approve(officer, ask("erasure", family.mother.user, student=family.child))
        assert request.status == Status.FAILED

        services.request_retry(officer=officer, request=request)
        run_queued_tasks()

        request.refresh_from_db()
        assert request.status == Status.COMPLETED
        assert (len(privacy_erasures), len(failing)) == (1, 2)
        assert request.steps_done == [p.app_label for p in providers()]
        assert request.last_error == ""
        assert set(request.outcome) == {p.app_label for p in providers()}
        family.child.refresh_from_db()
        assert family.child.first_name == "" and family.child.deleted_at is not None

    def test_a_failed_export_resumes_and_the_zip_holds_every_app(self, family, officer, monkeypatch):
        fail_once(monkeypatch, students.privacy, "export")
        privacy_exports = count_calls(monkeypatch, privacy.privacy, "export")
        request = approve(officer, ask("export", family.mother.user, student=family.child))
        assert (request.status, request.export_file) == (Status.FAILED, "")

        services.request_retry(officer=officer, request=request)
        run_queued_tasks()

        request.refresh_from_db()
        assert request.status == Status.READY
        assert len(privacy_exports) == 1
        files = read_zip(request)
        assert files["students.json"]["student"]["firstName"] == "Amira"
        assert "consentDecisions" in files["privacy.json"]

    def test_only_a_failed_request_is_retried_and_only_by_the_officer(self, family, school, officer, monkeypatch):
        pending = ask("export", family.mother.user)
        with pytest.raises(Conflict):
            services.request_retry(officer=officer, request=pending)
        fail_once(monkeypatch, students.privacy, "erase")
        failed = approve(officer, ask("erasure", family.mother.user, student=family.child))
        with pytest.raises(PermissionDenied):
            services.request_retry(officer=school.office, request=failed)

    def test_an_erasure_run_twice_is_the_same_as_once(self, family, officer):
        request = approve(officer, ask("erasure", family.mother.user, student=family.child))
        outcome = request.outcome
        process_privacy_request.enqueue(request.pk)
        run_queued_tasks()
        request.refresh_from_db()
        assert (request.status, request.outcome) == (Status.COMPLETED, outcome)


class TestApi:
    def test_a_guardian_asks_for_a_copy_through_the_api(self, family, user_api, frozen):
        response = user_api(family.mother.user).post("/api/privacy/export", {}, format="json")
        assert response.status_code == 202, response.json()
        data = response.json()["data"]
        assert (data["kind"], data["status"], data["studentId"], data["userId"]) == (
            "export",
            "pending",
            None,
            family.mother.user.pk,
        )
        assert data["dueOn"] == "2027-04-09"
        assert data["downloadUrl"] is None
        assert PrivacyRequest.objects.get().via == PrivacyRequest.Via.API

    def test_a_guardian_asks_for_a_childs_erasure_with_delete_or_post(self, family, user_api):
        api = user_api(family.mother.user)
        response = api.delete("/api/privacy/delete", {"studentId": family.child.pk}, format="json")
        assert response.status_code == 202, response.json()
        assert response.json()["data"]["studentId"] == family.child.pk
        assert response.json()["data"]["kind"] == "erasure"
        mine = api.post("/api/privacy/delete", {}, format="json")
        assert mine.status_code == 202 and mine.json()["data"]["userId"] == family.mother.user.pk
        assert {r["id"] for r in api.get("/api/privacy/delete").json()["data"]} == set(
            PrivacyRequest.objects.values_list("pk", flat=True)
        )

    def test_a_second_open_request_is_a_409(self, family, user_api):
        api = user_api(family.mother.user)
        first = api.post("/api/privacy/export", {"studentId": family.child.pk}, format="json").json()["data"]
        body = assert_error(
            api.post("/api/privacy/export", {"studentId": family.child.pk}, format="json"), 409, "request_open"
        )
        assert body["existingId"] == first["id"]

    def test_another_familys_child_is_a_400(self, family, school, user_api):
        response = user_api(family.mother.user).post(
            "/api/privacy/export", {"studentId": school.child_b.pk}, format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert body["details"][0]["field"] == "studentId"
        assert not PrivacyRequest.objects.exists()

    def test_an_unknown_field_is_a_400(self, family, user_api):
        response = user_api(family.mother.user).post("/api/privacy/export", {"student": 1}, format="json")
        assert_error(response, 400, "validation_error")

    def test_a_client_credentials_token_cannot_ask(self, family, partner_api):
        api = partner_api("privacy")
        assert_error(api.post("/api/privacy/export", {}, format="json"), 403, "permission_denied")
        assert_error(api.delete("/api/privacy/delete", {}, format="json"), 403, "permission_denied")
        assert not PrivacyRequest.objects.exists()

    def test_the_requester_follows_the_request_to_its_download(self, family, officer, user_api):
        api = user_api(family.mother.user)
        created = api.post("/api/privacy/export", {"studentId": family.child.pk}, format="json").json()["data"]
        approve(officer, PrivacyRequest.objects.get(pk=created["id"]))
        data = api.get(f"/api/privacy/requests/{created['id']}").json()["data"]
        request = PrivacyRequest.objects.get()
        assert data["status"] == "ready"
        assert data["downloadUrl"] == f"/family/privacy/downloads/{request.download_token}/"
        assert data["expiresAt"] is not None
        assert data["outcome"] == {}

    def test_the_requester_reads_a_rejection_and_its_reason(self, family, officer, user_api):
        api = user_api(family.mother.user)
        created = api.post("/api/privacy/delete", {"studentId": family.child.pk}, format="json").json()["data"]
        services.request_decide(
            officer=officer, request=PrivacyRequest.objects.get(), approve=False, reason="A safeguarding hold."
        )
        data = api.get(f"/api/privacy/requests/{created['id']}").json()["data"]
        assert (data["status"], data["decisionReason"]) == ("rejected", "A safeguarding hold.")

    def test_someone_elses_request_is_a_404(self, family, user_api):
        mine = ask("export", family.mother.user)
        assert_error(user_api(family.father.user).get(f"/api/privacy/requests/{mine.pk}"), 404, "not_found")
        assert_error(user_api(family.father.user).get("/api/privacy/requests/abc"), 404, "not_found")

    def test_the_retention_policies_are_public_to_a_signed_in_family(self, family, user_api):
        response = user_api(family.mother.user).get("/api/privacy/retention")
        assert response.status_code == 200
        policies = {p["category"]: p for p in response.json()["data"]}
        assert set(policies) >= {"student_record", "attendance_register", "notifications", "disclosure_log"}
        assert policies["student_record"] == {
            "category": "student_record",
            "description": "A student's record after they leave",
            "periodDays": 6 * 365,
            "anchor": "student_left",
            "action": "anonymise",
            "lawfulBasis": "Kept for six years after leaving (school records retention schedule)",
        }
