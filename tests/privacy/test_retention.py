"""Retention: `manage.py apply_retention` on both sides of each boundary, dry runs, batches and the log."""

from __future__ import annotations

import datetime
import io
import json
import logging
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from privacy.models import DisclosedStudent, Disclosure, RetentionPolicy, SuppressedRollNumber
from students.models import Student
from tests.factories import make_partner, make_student
from tests.privacy.helpers import rows_as_text

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2033, 6, 15, 12, 0, tzinfo=ZoneInfo("Europe/London"))
TODAY = NOW.date()
SIX_YEARS = 6 * 365
TWO_YEARS = 2 * 365


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def run(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("apply_retention", *args, stdout=out)
    lines = out.getvalue().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")] or lines


def left(days_ago: int | None, **fields) -> Student:
    left_on = TODAY - datetime.timedelta(days=days_ago) if days_ago is not None else None
    return make_student(status=Student.Status.LEFT, left_on=left_on, **fields)


def disclose_at(when: datetime.datetime, student: Student, traveller) -> Disclosure:
    traveller.move_to(when)
    app, _ = make_partner("students:read", name="Old partner")
    disclosure = Disclosure.objects.create(application=app, entity="students", path="/api/students", record_count=1)
    DisclosedStudent.objects.create(disclosure=disclosure, student=student)
    traveller.move_to(NOW)
    return disclosure


def entry(report: list[dict], category: str) -> dict:
    found = [item for item in report if item["category"] == category]
    assert len(found) == 1, report
    return found[0]


class TestStudentRecords:
    def test_the_policy_is_six_years_after_leaving(self, db):
        policy = RetentionPolicy.objects.get(category="student_record")
        assert (policy.period_days, policy.anchor, policy.action) == (SIX_YEARS, "student_left", "anonymise")

    def test_a_dry_run_shows_who_is_due_and_changes_nothing(self, frozen):
        due = left(SIX_YEARS, first_name="Exactly", roll_number="OLD1")
        left(SIX_YEARS - 1, first_name="Almost")
        before = rows_as_text()

        report = run("--dry-run")

        assert entry(report, "student_record") == {
            "category": "student_record",
            "app": "students",
            "action": "anonymise",
            "cutoff": (NOW - datetime.timedelta(days=SIX_YEARS)).astimezone(datetime.UTC).isoformat(),
            "count": 1,
            "dryRun": True,
        }
        assert rows_as_text() == before
        due.refresh_from_db()
        assert (due.first_name, due.deleted_at) == ("Exactly", None)

    def test_a_student_who_left_exactly_the_period_ago_is_erased_and_one_day_later_is_not(self, frozen):
        due = left(SIX_YEARS, first_name="Exactly", roll_number="OLD1", address="1 Old Road")
        older = left(SIX_YEARS + 400, first_name="Older", roll_number="OLD0")
        almost = left(SIX_YEARS - 1, first_name="Almost", roll_number="NEW1")
        current = make_student(first_name="Current")
        undated = left(None, first_name="Undated")

        report = run()

        assert entry(report, "student_record")["count"] == 2
        assert entry(report, "student_record")["dryRun"] is False
        for student in (due, older):
            student.refresh_from_db()
            assert student.deleted_at is not None
            assert (student.first_name, student.last_name, student.address, student.date_of_birth) == ("", "", "", None)
        assert set(SuppressedRollNumber.objects.values_list("roll_number", flat=True)) == {"OLD0", "OLD1"}
        for student, name in ((almost, "Almost"), (current, "Current"), (undated, "Undated")):
            student.refresh_from_db()
            assert (student.first_name, student.deleted_at) == (name, None)

    def test_the_next_day_the_other_student_is_due(self, frozen):
        almost = left(SIX_YEARS - 1, first_name="Almost")
        run()
        frozen.move_to(NOW + datetime.timedelta(days=1))
        assert entry(run("--dry-run"), "student_record")["count"] == 1
        run()
        almost.refresh_from_db()
        assert almost.deleted_at is not None

    def test_a_second_run_finds_nothing_left_to_do(self, frozen):
        left(SIX_YEARS)
        run()
        assert run() == ["Nothing done."]
        assert run("--dry-run") == ["Nothing due."]

    def test_students_are_erased_in_batches(self, frozen, settings):
        settings.PRIVACY_RETENTION_BATCH_SIZE = 2
        students = [left(SIX_YEARS + n) for n in range(5)]
        assert entry(run(), "student_record")["count"] == 5
        assert not Student.objects.live().filter(pk__in=[s.pk for s in students]).exists()

    def test_each_handled_category_is_logged(self, frozen, caplog):
        left(SIX_YEARS)
        with caplog.at_level(logging.INFO, logger="harmony.privacy"):
            run()
        records = [r for r in caplog.records if r.name == "harmony.privacy" and r.getMessage() == "retention"]
        assert [(r.category, r.app, r.count, r.dryRun) for r in records] == [("student_record", "students", 1, False)]


class TestDisclosureLog:
    def test_the_log_older_than_its_period_is_deleted(self, frozen):
        child = make_student()
        exactly = disclose_at(NOW - datetime.timedelta(days=TWO_YEARS), child, frozen)
        older = disclose_at(NOW - datetime.timedelta(days=TWO_YEARS + 30), child, frozen)
        recent = disclose_at(NOW - datetime.timedelta(days=TWO_YEARS - 1), child, frozen)

        assert entry(run("--dry-run"), "disclosure_log")["count"] == 2
        assert Disclosure.objects.count() == 3

        report = run()

        assert entry(report, "disclosure_log") | {"cutoff": None} == {
            "category": "disclosure_log",
            "app": "privacy",
            "action": "delete",
            "cutoff": None,
            "count": 2,
            "dryRun": False,
        }
        assert list(Disclosure.objects.values_list("pk", flat=True)) == [recent.pk]
        assert not DisclosedStudent.objects.filter(disclosure_id__in=[exactly.pk, older.pk]).exists()
        assert DisclosedStudent.objects.filter(disclosure=recent).exists()

    def test_the_log_is_deleted_in_batches(self, frozen, settings):
        settings.PRIVACY_RETENTION_BATCH_SIZE = 2
        child = make_student()
        for days in range(5):
            disclose_at(NOW - datetime.timedelta(days=TWO_YEARS + days), child, frozen)
        with CaptureQueriesContext(connection) as queries:
            run()
        deletes = [
            q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "privacy_disclosure"')
        ]
        assert len(deletes) == 3  # 2 + 2 + 1
        assert not Disclosure.objects.exists()

    def test_nothing_is_due_when_the_log_is_recent(self, frozen):
        disclose_at(NOW - datetime.timedelta(days=1), make_student(), frozen)
        assert run("--dry-run") == ["Nothing due."]
