"""POST /api/sync/students: a batch upserted by roll number, each record with its own result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from harmony.models import Change, IdempotentRequest
from privacy.models import SuppressedRollNumber
from privacy.registry import Subject, providers
from students.models import Student
from students.services import student_update
from tests.sync.conftest import answer, push, statuses

pytestmark = pytest.mark.django_db


def new(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "rollNumber": f"S{n:04d}",
        "firstName": f"First{n}",
        "lastName": f"Last{n}",
        "email": f"s{n}@pupils.test",
        "dateOfBirth": "2012-03-04",
        "gender": "female",
        "address": f"{n} High Street",
        **fields,
    }


class TestResults:
    def test_it_creates_then_updates_or_leaves_unchanged_by_roll_number(self, school, sync_api):
        api = sync_api()
        first = answer(push(api, "students", [new(1), new(2)]))
        assert [r["status"] for r in first["results"]] == ["created", "created"]
        assert first["totals"] == {"created": 2, "updated": 0, "unchanged": 0, "conflicts": 0, "errors": 0}
        ids = [r["id"] for r in first["results"]]

        again = answer(push(api, "students", [new(1), new(2, lastName="Changed"), new(3)]))
        assert [(r["index"], r["status"]) for r in again["results"]] == [
            (0, "unchanged"),
            (1, "updated"),
            (2, "created"),
        ]
        assert [r["id"] for r in again["results"][:2]] == ids
        changed = Student.objects.get(roll_number="S0002")
        assert (changed.last_name, changed.version, changed.first_name) == ("Changed", 2, "First2")
        assert Student.objects.get(roll_number="S0001").version == 1

    def test_a_record_sets_only_the_fields_it_carries(self, school, sync_api):
        result = answer(push(sync_api(), "students", [{"rollNumber": "A0001", "email": "amira@pupils.test"}]))
        assert result["results"] == [{"index": 0, "status": "updated", "id": school.child_a.pk}]
        child = Student.objects.get(pk=school.child_a.pk)
        assert (child.email, child.first_name, child.class_group_id) == (
            "amira@pupils.test",
            "Amira",
            school.class_a.pk,
        )

    def test_a_record_read_from_the_api_can_be_sent_back_unchanged(self, school, sync_api):
        api = sync_api()
        record = api.get(f"/api/students/{school.child_a.pk}").json()["data"]
        assert statuses(push(api, "students", [record])) == ["unchanged"]

    def test_a_bad_record_is_reported_and_the_good_ones_are_applied(self, school, sync_api):
        before = {s.pk: (s.first_name, s.version) for s in Student.objects.all()}
        records = [new(1), new(2, dateOfBirth="2999-01-01"), {"rollNumber": "A0001", "firstName": "Amina"}]
        result = answer(push(sync_api(), "students", records))
        assert [r["status"] for r in result["results"]] == ["created", "error", "updated"]
        error = result["results"][1]
        assert (error["index"], error["field"]) == (1, "dateOfBirth")
        assert error["reason"] == "A date of birth must be in the past."
        assert not Student.objects.filter(roll_number="S0002").exists()
        assert Student.objects.get(pk=school.child_b.pk).version == before[school.child_b.pk][1]
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Amina"
        assert result["totals"]["errors"] == 1

    def test_a_roll_number_twice_in_one_batch_is_an_error_the_second_time(self, school, sync_api):
        result = answer(push(sync_api(), "students", [new(1), new(1, firstName="Again")]))
        assert [r["status"] for r in result["results"]] == ["created", "error"]
        assert result["results"][1]["field"] == "rollNumber"
        assert Student.objects.get(roll_number="S0001").first_name == "First1"

    def test_a_deleted_students_roll_number_is_not_reused(self, school, persona_api, sync_api):
        persona_api("partner").delete(f"/api/students/{school.child_b.pk}")
        result = answer(push(sync_api(), "students", [new(1, rollNumber="B0001")]))
        assert result["results"][0]["status"] == "error"
        assert "deleted student" in result["results"][0]["reason"]

    def test_the_answer_names_the_time_to_send_back_as_last_sync(self, school, sync_api):
        before = timezone.now()
        result = answer(push(sync_api(), "students", [new(1)]))
        assert before <= datetime.fromisoformat(result["syncedAt"]) <= timezone.now()
        assert result["onConflict"] == "reject"


BAD_RECORDS = [
    pytest.param({"firstName": "No", "lastName": "Roll"}, "rollNumber", id="no roll number"),
    pytest.param(new(9, rollNumber="bad roll!"), "rollNumber", id="roll number with a space"),
    pytest.param(new(9, firstName=""), "firstName", id="blank first name"),
    pytest.param(new(9, firstName=12), "firstName", id="first name not a string"),
    pytest.param({"rollNumber": "S0009", "lastName": "Only"}, "firstName", id="no first name for a new student"),
    pytest.param(new(9, email="not-an-address"), "email", id="bad e-mail"),
    pytest.param(new(9, gender="robot"), "gender", id="unknown gender"),
    pytest.param(new(9, classGroupId=999999), "classGroupId", id="unknown class group"),
    pytest.param(new(9, dateOfBirth="15/05/2005"), "dateOfBirth", id="date in another format"),
    pytest.param(new(9, enrolledOn="2024-09-01", leftOn="2024-01-01"), "leftOn", id="left before enrolled"),
    pytest.param(new(9, nickname="Sunny"), "nickname", id="unknown field"),
    pytest.param(new(9, medicalNotes="x" * 4001), "medicalNotes", id="notes too long"),
]


class TestValidation:
    @pytest.mark.parametrize(("record", "field"), BAD_RECORDS)
    def test_it_reports_the_field_and_the_reason(self, school, sync_api, record, field):
        result = answer(push(sync_api(), "students", [record]))["results"][0]
        assert (result["status"], result["field"]) == ("error", field)
        assert result["reason"]

    @pytest.mark.parametrize(("record", "field"), BAD_RECORDS)
    def test_it_refuses_what_the_students_api_refuses(self, school, persona_api, record, field):
        response = persona_api("partner").post("/api/students", record, format="json")
        assert response.status_code == 400
        assert field in {detail["field"] for detail in response.json()["details"]}

    def test_a_record_that_is_not_an_object_is_an_error(self, school, sync_api):
        result = answer(push(sync_api(), "students", ["S0001", new(2)]))
        assert [r["status"] for r in result["results"]] == ["error", "created"]
        assert result["results"][0]["field"] is None


class TestConflicts:
    def changed_by_staff_after(self, school: Any) -> Any:
        last_sync = timezone.now() - timedelta(seconds=1)
        student_update(student=school.child_a, data={"first_name": "Amina"})
        return last_sync

    def test_by_default_it_reports_the_conflict_with_the_servers_values_and_changes_nothing(self, school, sync_api):
        last_sync = self.changed_by_staff_after(school)
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        result = answer(push(sync_api(), "students", [record], lastSyncTimestamp=last_sync.isoformat()))
        conflict = result["results"][0]
        assert (conflict["status"], conflict["resolution"], conflict["id"]) == (
            "conflict",
            "rejected",
            school.child_a.pk,
        )
        assert conflict["server"]["firstName"] == "Amina"
        assert conflict["server"]["rollNumber"] == "A0001"
        assert result["totals"]["conflicts"] == 1
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Amina"

    def test_server_wins_keeps_the_server_version(self, school, sync_api):
        last_sync = self.changed_by_staff_after(school)
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        body = {"lastSyncTimestamp": last_sync.isoformat(), "onConflict": "server_wins"}
        conflict = answer(push(sync_api(), "students", [record], **body))["results"][0]
        assert (conflict["status"], conflict["resolution"]) == ("conflict", "server_wins")
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Amina"

    def test_client_wins_applies_the_callers_version(self, school, sync_api):
        last_sync = self.changed_by_staff_after(school)
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        body = {"lastSyncTimestamp": last_sync.isoformat(), "onConflict": "client_wins"}
        result = answer(push(sync_api(), "students", [record], **body))["results"][0]
        assert (result["status"], result["resolution"]) == ("updated", "client_wins")
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Partner"

    def test_a_change_before_the_last_sync_is_no_conflict(self, school, sync_api):
        student_update(student=school.child_a, data={"first_name": "Amina"})
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        result = answer(push(sync_api(), "students", [record], lastSyncTimestamp=timezone.now().isoformat()))
        assert result["results"][0]["status"] == "updated"

    def test_the_callers_own_earlier_sync_is_no_conflict(self, school, sync_api):
        api = sync_api()
        last_sync = (timezone.now() - timedelta(seconds=1)).isoformat()
        push(api, "students", [new(1)], lastSyncTimestamp=last_sync)
        again = push(api, "students", [new(1, firstName="Again")], lastSyncTimestamp=last_sync)
        assert statuses(again) == ["updated"]
        other = push(sync_api(), "students", [new(1, firstName="Other")], lastSyncTimestamp=last_sync)
        assert statuses(other) == ["conflict"]

    def test_a_record_equal_to_the_servers_is_unchanged_whatever_happened(self, school, sync_api):
        last_sync = self.changed_by_staff_after(school)
        record = {"rollNumber": "A0001", "firstName": "Amina"}
        assert statuses(push(sync_api(), "students", [record], lastSyncTimestamp=last_sync.isoformat())) == [
            "unchanged"
        ]

    def test_the_server_values_are_limited_to_the_purposes_fields_and_logged(self, school, sync_api):
        from privacy.models import DisclosedStudent, PartnerPurpose, Purpose

        api = sync_api()
        purpose = Purpose.objects.create(
            code="timetable", title="Timetable", requires_consent=False, visible_fields={"students": ["rollNumber"]}
        )
        PartnerPurpose.objects.create(application=api.application, purpose=purpose, is_default=True)
        last_sync = self.changed_by_staff_after(school)
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        conflict = answer(push(api, "students", [record], lastSyncTimestamp=last_sync.isoformat()))["results"][0]
        assert conflict["server"] == {"id": school.child_a.pk, "rollNumber": "A0001"}
        assert DisclosedStudent.objects.filter(student=school.child_a, disclosure__application=api.application).exists()

    def test_it_refuses_an_unknown_on_conflict(self, school, sync_api):
        response = push(sync_api(), "students", [new(1)], onConflict="merge")
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "onConflict"


class TestRequests:
    def test_more_than_5000_records_is_413_with_the_limit(self, school, sync_api):
        response = push(sync_api(), "students", [{"rollNumber": "X"}] * 5001)
        body = response.json()
        assert response.status_code == 413, body
        assert (body["success"], body["code"], body["limit"]) == (False, "payload_too_large", 5000)
        assert "5000" in body["details"][0]["message"]
        assert not Student.objects.filter(roll_number="X").exists()

    def test_5000_records_are_one_batch(self, school, sync_api):
        result = answer(push(sync_api(), "students", [{"rollNumber": "no spaces allowed"}] * 5000))
        assert result["totals"]["errors"] == 5000

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"students": "S0001"}, "students"),
            ({}, "students"),
            ({"students": [], "since": "yesterday"}, "since"),
            ({"students": [], "lastSyncTimestamp": "yesterday"}, "lastSyncTimestamp"),
        ],
    )
    def test_it_refuses_a_malformed_request(self, school, sync_api, body, field):
        response = sync_api().post("/api/sync/students", body, format="json")
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == field

    def test_a_batch_longer_than_one_statement_allows_is_written_whole(self, school, sync_api, monkeypatch):
        # SQLite takes a limited number of variables per statement: a batch goes in several (PostgreSQL: one).
        monkeypatch.setattr("harmony.sync.bulk._rows_per_statement", lambda width: 7)
        api = sync_api()
        created = answer(push(api, "students", [new(n) for n in range(20)]))
        assert created["totals"]["created"] == 20
        assert len({r["id"] for r in created["results"]}) == 20
        updated = answer(push(api, "students", [new(n, lastName=f"Again{n}") for n in range(20)]))
        assert updated["totals"]["updated"] == 20
        assert sorted(
            Student.objects.filter(last_name__startswith="Again").values_list("last_name", flat=True)
        ) == sorted(f"Again{n}" for n in range(20))

    def test_it_answers_with_and_without_a_trailing_slash(self, school, sync_api):
        api = sync_api()
        assert api.post("/api/sync/students/", {"students": []}, format="json").status_code == 200
        assert api.post("/api/sync/students", {"students": []}, format="json").status_code == 200


class TestIdempotency:
    def test_the_same_key_again_gives_the_first_answer_and_applies_nothing_twice(self, school, sync_api):
        api = sync_api()
        first = push(api, "students", [new(1), new(2, dateOfBirth="2999-01-01")], key="batch-1")
        Student.objects.filter(roll_number="S0001").update(first_name="Changed meanwhile")
        changes = Change.objects.count()
        again = push(api, "students", [new(1), new(2, dateOfBirth="2999-01-01")], key="batch-1")
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Change.objects.count() == changes
        assert Student.objects.get(roll_number="S0001").first_name == "Changed meanwhile"

    def test_the_same_key_with_another_body_is_409(self, school, sync_api):
        api = sync_api()
        push(api, "students", [new(1)], key="batch-1")
        response = push(api, "students", [new(2)], key="batch-1")
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_reused"
        assert not Student.objects.filter(roll_number="S0002").exists()

    def test_the_same_key_on_the_other_entity_is_409(self, school, sync_api):
        api = sync_api()
        push(api, "students", [], key="batch-1")
        assert push(api, "attendance", [], key="batch-1").status_code == 409

    def test_keys_belong_to_one_application(self, school, sync_api):
        push(sync_api(), "students", [new(1)], key="batch-1")
        assert statuses(push(sync_api(), "students", [new(1, firstName="Other")], key="batch-1")) == ["updated"]

    def test_a_key_is_forgotten_after_a_day(self, school, sync_api):
        api = sync_api()
        push(api, "students", [new(1)], key="batch-1")
        IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
        assert statuses(push(api, "students", [new(2)], key="batch-1")) == ["created"]

    def test_a_failed_request_keeps_no_key(self, school, sync_api):
        api = sync_api()
        assert push(api, "students", [new(1)], key="batch-1", onConflict="merge").status_code == 400
        assert statuses(push(api, "students", [new(1)], key="batch-1")) == ["created"]

    def test_an_erasure_forgets_the_answers_that_carried_the_childs_data(self, school, sync_api):
        api = sync_api()
        last_sync = timezone.now() - timedelta(seconds=1)
        student_update(student=school.child_a, data={"first_name": "Amina"})
        record = {"rollNumber": "A0001", "firstName": "Partner"}
        push(api, "students", [record], key="conflict-1", lastSyncTimestamp=last_sync.isoformat())
        push(api, "students", [new(1)], key="unrelated")
        for provider in providers():
            provider.erase(Subject(student=school.child_a))
        assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["unrelated"]


class TestSuppression:
    def test_a_suppressed_roll_number_is_not_recreated(self, school, sync_api):
        SuppressedRollNumber.objects.create(roll_number="S0001")
        result = answer(push(sync_api(), "students", [new(1), new(2)]))["results"]
        assert [r["status"] for r in result] == ["error", "created"]
        assert result[0]["field"] == "rollNumber"
        assert "erased" in result[0]["reason"]
        assert not Student.objects.filter(roll_number="S0001").exists()

    def test_an_erased_child_stays_erased(self, school, sync_api):
        for provider in providers():
            provider.erase(Subject(student=school.child_a))
        result = answer(push(sync_api(), "students", [new(1, rollNumber="A0001")]))["results"][0]
        assert (result["status"], result["field"]) == ("error", "rollNumber")
        assert "erased" in result["reason"]
        assert Student.objects.get(roll_number="A0001").first_name == ""


class TestRecords:
    def test_every_applied_change_records_the_sync_and_the_application(self, school, sync_api):
        api = sync_api()
        result = answer(
            push(api, "students", [new(1), {"rollNumber": "A0001", "firstName": "Amina"}, new(3, email="x")])
        )
        written = {r["id"] for r in result["results"] if r["status"] in ("created", "updated")}
        changes = Change.objects.filter(record_id__in=written, entity="students")
        assert {(c.source, c.application_id, c.operation) for c in changes} == {("sync", api.application.pk, "upsert")}
        assert {c.record_id for c in changes} == written
        assert {c.key["rollNumber"] for c in changes} == {"S0001", "A0001"}

    def test_personal_fields_are_encrypted_at_rest(self, school, sync_api):
        push(sync_api(), "students", [new(1, medicalNotes="Asthma", supportNotes="Extra time")])
        push(sync_api(), "students", [new(1, address="2 Low Road")])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT date_of_birth, address, medical_notes, support_notes FROM students_student "
                "WHERE roll_number = %s",
                ["S0001"],
            )
            stored = cursor.fetchone()
        assert all(value.startswith("enc:v1:") for value in stored), stored
        student = Student.objects.get(roll_number="S0001")
        assert (student.address, student.medical_notes, str(student.date_of_birth)) == (
            "2 Low Road",
            "Asthma",
            "2012-03-04",
        )


class TestAccess:
    @pytest.mark.parametrize("scopes", ["students:read students:write", "sync students:read", "sync attendance:write"])
    def test_it_needs_the_sync_scope_and_the_write_scope(self, school, sync_api, scopes):
        response = push(sync_api(scopes), "students", [new(1)])
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
        assert not Student.objects.filter(roll_number="S0001").exists()

    def test_it_needs_a_token(self, school, client):
        assert client.post("/api/sync/students", {"students": []}, content_type="application/json").status_code == 401


class TestQueries:
    def count(self, api: Any, records: list[dict[str, Any]]) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            result = answer(push(api, "students", records))
        assert result["totals"]["errors"] == 0, result["results"][:3]
        return [query["sql"] for query in queries.captured_queries]

    def test_a_batch_costs_the_same_queries_for_10_or_500_records(self, school, sync_api):
        api = sync_api()
        push(api, "students", [])  # the first request of a token resolves it once more than the others
        last_sync = {"lastSyncTimestamp": (timezone.now() - timedelta(hours=1)).isoformat()}
        group = {"classGroupId": school.class_a.pk}
        few = self.count(api, [new(n, **group) for n in range(10)])
        many = self.count(api, [new(n, **group) for n in range(10, 510)])
        assert len(few) == len(many), (few, many)
        updates_few = self.count(api, [new(n, lastName="Again", **group) for n in range(10)])
        with CaptureQueriesContext(connection) as queries:
            result = answer(
                push(api, "students", [new(n, lastName="Again", **group) for n in range(10, 510)], **last_sync)
            )
        assert result["totals"]["updated"] == 500
        assert len(queries) - len(updates_few) <= 1  # the conflict check runs only with a lastSyncTimestamp
        # token, the application's purposes, then in one transaction: the suppression list, the class groups,
        # the matched students (locked), who may see them, [the conflicting changes], a savepoint around one
        # insert (new students) or one INSERT ... ON CONFLICT (changed ones), the change counter, one insert into
        # the feed, the sync state; the rate limit is in the cache.
        assert len(many) <= 16, many
