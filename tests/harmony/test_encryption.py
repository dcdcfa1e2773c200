"""Personal fields encrypted at rest: unreadable in the tables, bound to their column, rotatable, independent."""

from __future__ import annotations

import base64
import io
import os
from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction

from harmony.crypto import DecryptionError, generate_key, key_id_of, key_ring, parse_key_ring
from students.models import Guardian, Student
from tests.factories import make_guardian, make_student

pytestmark = pytest.mark.django_db

CLEAR = {
    "date_of_birth": date(2011, 3, 14),
    "address": "17 Quayside Mews, Leicester LE2 7QX",
    "medical_notes": "Severe peanut allergy: EpiPen kept in the office",
    "support_notes": "Dyslexia assessment booked with the SENCo",
}
GUARDIAN_CLEAR = {"phone": "07700 900 461", "address": "3 Wharf Street North, Leicester LE1 2AB"}
CLEAR_TEXTS = ["2011-03-14", *(v for v in CLEAR.values() if isinstance(v, str)), *GUARDIAN_CLEAR.values()]

STUDENT_FIELDS = ["date_of_birth", "address", "medical_notes", "support_notes"]
GUARDIAN_FIELDS = ["phone", "address"]


def stored(model: Any, pk: int, field: str) -> str:
    """Return the text in the table for `field` of row `pk`, as the database holds it."""
    quote = connection.ops.quote_name
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def overwrite(model: Any, pk: int, field: str, value: str) -> None:
    quote = connection.ops.quote_name
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quote(model._meta.db_table)} SET {quote(column)} = %s WHERE id = %s", [value, pk])


def database_dump() -> str:
    """Return every value of every table as text, as a dump of the database would show them."""
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    quote = connection.ops.quote_name
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT CAST(t AS text) FROM {quote(table)} AS t")
            lines.extend(row[0] for row in cursor.fetchall())
    return "\n".join(lines)


@pytest.fixture
def student() -> Student:
    return make_student(first_name="Amira", last_name="Ahmed", **CLEAR)


@pytest.fixture
def guardian(student: Student) -> Guardian:
    return make_guardian(student, **GUARDIAN_CLEAR)


def ring_spec(**keys: str) -> str:
    return ",".join(f"{key_id}:{key}" for key_id, key in keys.items())


class TestAtRest:
    def test_the_table_holds_sealed_values_and_never_the_clear_text(self, student, guardian):
        for model, pk, fields in ((Student, student.pk, STUDENT_FIELDS), (Guardian, guardian.pk, GUARDIAN_FIELDS)):
            for field in fields:
                value = stored(model, pk, field)
                assert value.startswith("enc:v1:"), (field, value)
                assert all(text not in value for text in CLEAR_TEXTS)

    def test_no_clear_value_appears_anywhere_in_a_dump_of_the_database(self, student, guardian):
        dump = database_dump()
        assert "Amira" in dump  # the dump really holds the rows: names are not encrypted
        assert "enc:v1:" in dump
        for text in CLEAR_TEXTS:
            assert text not in dump, text

    def test_values_round_trip_through_the_orm(self, student, guardian):
        fresh = Student.objects.get(pk=student.pk)
        for field, value in CLEAR.items():
            assert getattr(fresh, field) == value
        assert isinstance(fresh.date_of_birth, date)
        fresh_guardian = Guardian.objects.get(pk=guardian.pk)
        for field, value in GUARDIAN_CLEAR.items():
            assert getattr(fresh_guardian, field) == value

    def test_empty_values_stay_empty(self):
        blank = make_student(date_of_birth=None, address="", medical_notes="")
        assert stored(Student, blank.pk, "date_of_birth") is None
        assert stored(Student, blank.pk, "address") == ""
        fresh = Student.objects.get(pk=blank.pk)
        assert (fresh.date_of_birth, fresh.address, fresh.medical_notes) == (None, "", "")

    def test_the_same_value_seals_differently_each_time(self, student):
        twin = make_student(**CLEAR)
        assert stored(Student, student.pk, "address") != stored(Student, twin.pk, "address")

    def test_each_stored_value_names_its_key(self, student, guardian):
        primary = key_ring().primary_id
        for model, pk, fields in ((Student, student.pk, STUDENT_FIELDS), (Guardian, guardian.pk, GUARDIAN_FIELDS)):
            for field in fields:
                assert stored(model, pk, field).startswith(f"enc:v1:{primary}:")
                assert key_id_of(stored(model, pk, field)) == primary

    def test_values_written_through_the_api_are_sealed(self, partner_api):
        api = partner_api("students:read students:write")
        body = {
            "rollNumber": "API0001",
            "firstName": "Yusuf",
            "lastName": "Khan",
            "dateOfBirth": "2011-03-14",
            "medicalNotes": CLEAR["medical_notes"],
        }
        response = api.post("/api/students", body, format="json")
        assert response.status_code == 201, response.content
        pk = response.json()["data"]["id"]
        assert stored(Student, pk, "medical_notes").startswith("enc:v1:")
        assert CLEAR["medical_notes"] not in database_dump()
        assert api.get(f"/api/students/{pk}").json()["data"]["medicalNotes"] == CLEAR["medical_notes"]


class TestBinding:
    def test_a_value_copied_into_another_column_does_not_open(self, student):
        overwrite(Student, student.pk, "support_notes", stored(Student, student.pk, "medical_notes"))
        with pytest.raises(DecryptionError):
            Student.objects.get(pk=student.pk)

    def test_a_value_copied_into_the_same_field_of_another_model_does_not_open(self, student, guardian):
        overwrite(Guardian, guardian.pk, "address", stored(Student, student.pk, "address"))
        with pytest.raises(DecryptionError):
            Guardian.objects.get(pk=guardian.pk)

    def test_a_date_copied_into_a_text_column_does_not_open(self, student):
        overwrite(Student, student.pk, "address", stored(Student, student.pk, "date_of_birth"))
        with pytest.raises(DecryptionError):
            Student.objects.get(pk=student.pk)

    def test_a_tampered_value_does_not_open(self, student):
        value = stored(Student, student.pk, "medical_notes")
        flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
        overwrite(Student, student.pk, "medical_notes", flipped)
        with pytest.raises(DecryptionError):
            Student.objects.get(pk=student.pk)

    def test_a_value_under_an_unknown_key_does_not_open(self, student, settings):
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(other=generate_key())
        with pytest.raises(DecryptionError):
            Student.objects.get(pk=student.pk)


class TestRotation:
    def test_rotation_reseals_everything_under_the_new_key(self, settings):
        old, new = generate_key(), generate_key()
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(old=old)
        students = [make_student(**CLEAR) for _ in range(3)]
        deleted = make_student(**CLEAR)
        Student.objects.filter(pk=deleted.pk).update(deleted_at="2026-01-01T00:00:00Z")
        guardian = make_guardian(students[0], **GUARDIAN_CLEAR)
        assert key_id_of(stored(Student, students[0].pk, "address")) == "old"

        settings.FIELD_ENCRYPTION_KEYS = ring_spec(new=new, old=old)
        out = io.StringIO()
        call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
        assert "students.Student: 4 rows" in out.getvalue()
        assert "students.Guardian: 1 rows" in out.getvalue()

        for student in [*students, deleted]:
            for field in STUDENT_FIELDS:
                assert key_id_of(stored(Student, student.pk, field)) == "new"
        for field in GUARDIAN_FIELDS:
            assert key_id_of(stored(Guardian, guardian.pk, field)) == "new"

        settings.FIELD_ENCRYPTION_KEYS = ring_spec(new=new)
        for student in Student.objects.filter(pk__in=[s.pk for s in students]):
            assert (student.address, student.date_of_birth) == (CLEAR["address"], CLEAR["date_of_birth"])
        assert Guardian.objects.get(pk=guardian.pk).phone == GUARDIAN_CLEAR["phone"]

    def test_rotation_changes_nothing_else_and_can_run_again(self, settings):
        old, new = generate_key(), generate_key()
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(old=old)
        student = make_student(**CLEAR)
        before = Student.objects.values("updated_at", "version", "first_name").get(pk=student.pk)
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(new=new, old=old)
        call_command("rotate_encryption_keys", stdout=io.StringIO())
        sealed = stored(Student, student.pk, "address")

        out = io.StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert "students.Student: 0 rows" in out.getvalue()
        assert stored(Student, student.pk, "address") == sealed
        assert Student.objects.values("updated_at", "version", "first_name").get(pk=student.pk) == before

    def test_without_the_old_key_unrotated_values_cannot_be_read(self, settings):
        old = generate_key()
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(old=old)
        student = make_student(**CLEAR)
        settings.FIELD_ENCRYPTION_KEYS = ring_spec(new=generate_key())
        with pytest.raises(DecryptionError):
            Student.objects.get(pk=student.pk)


class TestKeys:
    def test_the_keys_are_independent_of_the_secret_key(self, settings, student, guardian):
        sealed = stored(Student, student.pk, "medical_notes")
        settings.SECRET_KEY = "a-completely-different-secret-key-" + "x" * 40
        assert Student.objects.get(pk=student.pk).medical_notes == CLEAR["medical_notes"]
        assert Guardian.objects.get(pk=guardian.pk).phone == GUARDIAN_CLEAR["phone"]
        assert make_student(**CLEAR).medical_notes == CLEAR["medical_notes"]
        assert stored(Student, student.pk, "medical_notes") == sealed

    @pytest.mark.parametrize(
        ("spec", "problem"),
        [
            ("", "names no key"),
            (" , ", "names no key"),
            ("k1:" + base64.b64encode(os.urandom(16)).decode(), "32 bytes"),
            ("k1:" + base64.b64encode(os.urandom(48)).decode(), "32 bytes"),
            ("k1:not base64!!", "base64"),
            (base64.b64encode(os.urandom(32)).decode(), "key-id:base64-key"),
            (":" + base64.b64encode(os.urandom(32)).decode(), "key-id:base64-key"),
        ],
        ids=["empty", "blank-entries", "short-key", "long-key", "bad-base64", "no-key-id", "empty-key-id"],
    )
    def test_bad_key_configuration_is_refused(self, settings, spec, problem):
        with pytest.raises(ImproperlyConfigured, match=problem):
            parse_key_ring(spec)
        settings.FIELD_ENCRYPTION_KEYS = spec
        with pytest.raises(ImproperlyConfigured), transaction.atomic():
            make_student(**CLEAR)
        assert not Student.objects.exists()
