"""The registry of personal data: every app's provider is found, and no model that points to a person, no
encrypted field and no obvious personal field can exist without a declaration."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist

from harmony.fields import EncryptedField
from privacy.registry import ORDER, declared_fields, providers
from students.models import Guardian, Student
from tests.privacy.helpers import has_provider_module, pending_apps


def person_models() -> set[type]:
    return {Student, Guardian, get_user_model()}


def links_to_a_person(model: type) -> list[str]:
    """Return the names of `model`'s own foreign keys, one-to-ones and many-to-manys to a student, a guardian or
    a user (reverse relations belong to the model that declares them)."""
    return [
        field.name
        for field in model._meta.get_fields()
        if field.is_relation
        and not field.auto_created
        and (field.many_to_one or field.one_to_one or field.many_to_many)
        and field.related_model in person_models()
    ]


def checked_app_labels() -> list[str]:
    return sorted(config.label for config in apps.get_app_configs() if config.models_module is not None)


def skip_if_provider_pending(app_label: str) -> None:
    if app_label in pending_apps():
        pytest.skip(f"{app_label} has no privacy.py on this branch yet")


class TestDiscovery:
    def test_every_app_with_a_privacy_module_is_a_provider(self):
        expected = {config.label for config in apps.get_app_configs() if has_provider_module(config.name)}
        found = [provider.app_label for provider in providers()]
        assert {"students", "privacy"} <= set(found)
        assert sorted(found) == sorted(expected)
        assert len(found) == len(set(found))

    def test_every_provider_can_export_and_erase(self):
        for provider in providers():
            assert callable(getattr(provider.module, "export", None)), provider.app_label
            assert callable(getattr(provider.module, "erase", None)), provider.app_label
            assert provider.declarations, f"{provider.app_label} declares nothing"

    def test_erasure_runs_the_apps_that_point_at_students_before_the_students_app(self):
        order = [provider.app_label for provider in providers()]
        assert order.index("privacy") < order.index("students")
        for label in ("attendance", "notifications"):
            if label in order:
                assert order.index(label) < order.index("students")
        known = [label for label in order if label in ORDER]
        assert known == sorted(known, key=ORDER.index)


class TestDeclarations:
    def test_every_declaration_names_a_real_model_and_real_fields(self):
        for provider in providers():
            for declaration in provider.declarations:
                model = apps.get_model(declaration.model)
                for name in declaration.fields:
                    try:
                        model._meta.get_field(name)
                    except FieldDoesNotExist:
                        pytest.fail(f"{provider.app_label} declares {declaration.model}.{name}, which does not exist")

    def test_every_declaration_says_why_and_for_how_long(self):
        for provider in providers():
            for declaration in provider.declarations:
                assert declaration.fields, declaration.model
                assert declaration.category.strip(), declaration.model
                assert declaration.purpose.strip(), declaration.model
                assert declaration.retention.strip(), declaration.model

    @pytest.mark.parametrize("app_label", checked_app_labels())
    def test_every_link_to_a_student_a_guardian_or_a_user_is_declared(self, app_label):
        skip_if_provider_pending(app_label)
        declared = declared_fields()
        missing = [
            f"{model._meta.label}.{name}"
            for model in apps.get_app_config(app_label).get_models()
            for name in links_to_a_person(model)
            if name not in declared.get(model._meta.label_lower, set())
        ]
        assert not missing, f"personal data without a privacy declaration: {', '.join(missing)}"

    def test_the_check_sees_third_party_models_that_point_to_people(self):
        # The coverage test walks every installed model, not only ours: the framework keeps people too.
        labels = {model._meta.label_lower for model in apps.get_models() if links_to_a_person(model)} & set(
            declared_fields()
        )
        assert {
            "admin.logentry",
            "oauth2_provider.accesstoken",
            "oauth2_provider.refreshtoken",
            "oauth2_provider.grant",
            "oauth2_provider.idtoken",
            "harmony.application",
        } <= labels

    @pytest.mark.parametrize("app_label", checked_app_labels())
    def test_every_encrypted_field_is_declared(self, app_label):
        skip_if_provider_pending(app_label)
        declared = declared_fields()
        missing = [
            f"{model._meta.label}.{field.name}"
            for model in apps.get_app_config(app_label).get_models()
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedField) and field.name not in declared.get(model._meta.label_lower, set())
        ]
        assert not missing, f"encrypted personal data without a declaration: {', '.join(missing)}"

    @pytest.mark.parametrize(
        ("model", "fields"),
        [
            (
                "students.Student",
                {"first_name", "last_name", "email", "date_of_birth", "address", "medical_notes", "support_notes"},
            ),
            ("students.Guardian", {"user", "phone", "address"}),
            ("students.Guardianship", {"guardian", "student", "relationship"}),
            ("harmony.User", {"username", "first_name", "last_name", "email"}),
            ("admin.LogEntry", {"user", "object_repr", "change_message"}),
            ("privacy.SuppressedRollNumber", {"roll_number"}),
        ],
    )
    def test_the_obvious_personal_fields_are_declared(self, model, fields):
        assert fields <= declared_fields().get(model.lower(), set())

    def test_what_the_law_requires_to_keep_names_its_basis(self):
        for provider in providers():
            for declaration in provider.declarations:
                if declaration.kept_by_law:
                    assert declaration.lawful_basis, declaration.model
