"""The privacy pages from the outside: who may open which, consent through the family pages, paper forms, texts,
the request queue through to a downloaded zip, the disclosure log, the admin, and what each list costs.

The sweep walks every privacy page for every persona (the school's, plus a privacy officer); the sweep in
tests/harmony/test_pages.py checks that every page route is swept somewhere.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from harmony.roles import Role
from privacy import consent, services
from privacy.models import (
    ConsentDecision,
    ConsentState,
    DisclosedStudent,
    Disclosure,
    PrivacyRequest,
    Purpose,
    PurposeText,
)
from privacy.registry import providers
from students.models import Guardianship
from tests.conftest import School
from tests.factories import make_class_group, make_guardian, make_partner, make_student, make_user
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db

STAFF = ("admin", "office", "teacher", "colleague", "officer")
GUARDIANS = ("guardian", "outsider")
PERSONAS = ("anonymous", *STAFF, *GUARDIANS)
DESK = ("admin", "office", "officer")
OFFICERS = ("admin", "officer")


@pytest.fixture(autouse=True)
def _exports_in_a_temporary_folder(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def officer(school: School) -> Any:
    return make_user("privacy@school.test", Role.PRIVACY_OFFICER, first_name="Priya", last_name="Shah")


@pytest.fixture
def photos(school: School) -> Purpose:
    """The one purpose that asks for consent, so that what waits for an answer is known."""
    Purpose.objects.update(is_active=False)
    purpose = Purpose.objects.create(code="photos", title="Photos on the website", requires_consent=True)
    PurposeText.objects.create(
        purpose=purpose, version=1, text="We may publish photos.", status="active", published_at=timezone.now()
    )
    return purpose


def user_of(school: School, persona: str, officer: Any) -> Any:
    if persona == "officer":
        return officer
    if persona in GUARDIANS:
        return getattr(school, persona).user
    return getattr(school, persona)


def client_for(school: School, persona: str, officer: Any = None) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(user_of(school, persona, officer))
    return client


def ready_export(school: School, officer: Any, *, by: Any = None, student: Any = None) -> PrivacyRequest:
    """An export asked for on the family page, approved, carried out by the task worker."""
    request = services.request_create(
        kind="export", requested_by=by or school.guardian.user, via="family_page", student=student
    )
    services.request_decide(officer=officer, request=request, approve=True)
    run_queued_tasks()
    request.refresh_from_db()
    assert request.status == PrivacyRequest.Status.READY, request.last_error
    return request


def staff_page(path: str, *, allowed: tuple[str, ...] = STAFF, status: int = 200) -> dict[str, int | str]:
    """`allowed` staff get `status`; other staff and guardians 403; strangers sign in on the staff page."""
    return {
        "anonymous": f"/staff/login/?next={path}",
        **{persona: status if persona in allowed else 403 for persona in STAFF},
        **dict.fromkeys(GUARDIANS, 403),
    }


def family_page(path: str, *, status: int = 200) -> dict[str, int | str]:
    """Guardians get `status`; staff 403; strangers sign in on the family page."""
    return {"anonymous": f"/family/login/?next={path}", **dict.fromkeys(STAFF, 403), **dict.fromkeys(GUARDIANS, status)}


R = "/staff/privacy/requests/{request}/"
PAGES: dict[str, tuple[str, dict[str, int | str]]] = {
    "staff/privacy/": ("/staff/privacy/", staff_page("/staff/privacy/")),
    "staff/privacy/paper-forms/": (
        "/staff/privacy/paper-forms/",
        staff_page("/staff/privacy/paper-forms/", allowed=DESK),
    ),
    "staff/privacy/paper-forms/<int:pk>/": (
        "/staff/privacy/paper-forms/{child_a}/",
        staff_page("/staff/privacy/paper-forms/{child_a}/", allowed=DESK),
    ),
    "staff/privacy/texts/": ("/staff/privacy/texts/", staff_page("/staff/privacy/texts/", allowed=OFFICERS)),
    "staff/privacy/texts/<slug:code>/": (
        "/staff/privacy/texts/photos/",
        staff_page("/staff/privacy/texts/photos/", allowed=OFFICERS),
    ),
    "staff/privacy/requests/": ("/staff/privacy/requests/", staff_page("/staff/privacy/requests/", allowed=OFFICERS)),
    "staff/privacy/requests/new/": (
        "/staff/privacy/requests/new/",
        staff_page("/staff/privacy/requests/new/", allowed=DESK),
    ),
    "staff/privacy/requests/<int:pk>/": (R, staff_page(R, allowed=OFFICERS)),
    # Decisions and retries are POSTs: a GET is refused, after the access check.
    "staff/privacy/requests/<int:pk>/decide/": (
        R + "decide/",
        staff_page(R + "decide/", allowed=OFFICERS, status=405),
    ),
    "staff/privacy/requests/<int:pk>/retry/": (R + "retry/", staff_page(R + "retry/", allowed=OFFICERS, status=405)),
    "staff/privacy/disclosures/": (
        "/staff/privacy/disclosures/",
        staff_page("/staff/privacy/disclosures/", allowed=OFFICERS),
    ),
    "family/privacy/": ("/family/privacy/", family_page("/family/privacy/")),
    "family/privacy/consents/": ("/family/privacy/consents/", family_page("/family/privacy/consents/")),
    "family/privacy/consents/<int:student>/<slug:purpose>/": (
        "/family/privacy/consents/{child_a}/photos/",
        family_page("/family/privacy/consents/{child_a}/photos/", status=405),
    ),
    "family/privacy/shared/": ("/family/privacy/shared/", family_page("/family/privacy/shared/")),
    # The guardian's own export: the guardian, the privacy officer and administrators; no one else knows it is there.
    "family/privacy/downloads/<uuid:token>/": (
        "/family/privacy/downloads/{token}/",
        {
            **dict.fromkeys(PERSONAS, 404),
            **dict.fromkeys(("guardian", "officer", "admin"), 200),
            "anonymous": "/family/login/?next=/family/privacy/downloads/{token}/",
        },
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_persona_gets_the_answer_the_privacy_page_promises(school, officer, photos, page, persona):
    export = ready_export(school, officer)
    pending = services.request_create(kind="erasure", requested_by=school.guardian.user, via="family_page")
    values = {
        "child_a": school.child_a.pk,
        "child_b": school.child_b.pk,
        "request": pending.pk,
        "token": export.download_token,
    }
    template, answers = PAGES[page]
    expected = answers[persona]
    response = client_for(school, persona, officer).get(template.format(**values))
    if isinstance(expected, str):
        assert (response.status_code, response["Location"]) == (302, expected.format(**values))
    else:
        assert response.status_code == expected


class TestConsentOnTheFamilyPages:
    def decide(self, client: Client, school: School, agree: str, child: Any = None) -> Any:
        child = child or school.child_a
        return client.post(f"/family/privacy/consents/{child.pk}/photos/", {"agree": agree})

    def test_grant_then_withdraw_through_the_page_adds_two_ledger_entries_and_changes_the_state(self, school, photos):
        client = client_for(school, "guardian")
        page = client.get("/family/privacy/consents/").content.decode()
        assert "We may publish photos." in page and "Waiting for an answer" in page

        response = self.decide(client, school, "yes")
        assert response["Location"] == f"/family/privacy/consents/#consent-{school.child_a.pk}-photos"
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "granted"
        page = client.get("/family/privacy/consents/").content.decode()
        assert "You agreed to “Photos on the website” for Amira." in page
        assert "Withdraw consent" in page and ">Agree<" not in page  # one button: the one that changes the answer

        self.decide(client, school, "no")
        ledger = list(ConsentDecision.objects.filter(student=school.child_a, purpose=photos))
        assert [(d.decision, d.method, d.recorded_by) for d in ledger] == [
            ("granted", "family_page", school.guardian.user),
            ("withdrawn", "family_page", school.guardian.user),
        ]
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "withdrawn"
        page = client.get("/family/privacy/consents/").content.decode()
        assert "Consent withdrawn" in page
        assert "you withdrew consent on the family pages (text version 1)" in page

    def test_saying_no_before_ever_agreeing_is_a_refusal(self, school, photos):
        self.decide(client_for(school, "guardian"), school, "no")
        assert ConsentDecision.objects.get().decision == "refused"

    def test_two_guardians_deciding_differently_show_the_combined_state_and_an_unnamed_other(self, school, photos):
        other = make_guardian(
            school.child_a, user=make_user("father@family.test", first_name="Omar", last_name="Ahmed")
        )
        consent.consent_record(
            student=school.child_a, purpose=photos, guardian=other, decision="withdrawn", method="paper_form"
        )
        client = client_for(school, "guardian")
        self.decide(client, school, "yes")
        page = client.get("/family/privacy/consents/").content.decode()
        assert 'data-state="withdrawn"' in page  # a refusal by either parent wins
        assert "Another guardian withdrew consent on" in page
        assert "another guardian withdrew consent on a paper form the school entered" in page
        assert "you agreed on the family pages" in page
        assert "Omar" not in page

    def test_a_guardian_without_parental_responsibility_sees_the_state_but_cannot_answer(self, school, photos):
        Guardianship.objects.filter(guardian=school.guardian).update(parental_responsibility=False)
        client = client_for(school, "guardian")
        page = client.get("/family/privacy/consents/").content.decode()
        assert "only a parent or carer with parental responsibility can answer" in page
        assert 'name="agree"' not in page
        assert "consent question" not in page  # no banner: nothing they could answer
        assert self.decide(client, school, "yes").status_code == 403
        assert not ConsentDecision.objects.exists()

    def test_a_guardian_cannot_answer_for_another_family_child(self, school, photos):
        response = self.decide(client_for(school, "guardian"), school, "yes", child=school.child_b)
        assert response.status_code == 404
        assert not ConsentDecision.objects.exists()

    def test_an_inactive_or_unknown_purpose_is_not_found(self, school, photos):
        client = client_for(school, "guardian")
        photos.is_active = False
        photos.save()
        assert self.decide(client, school, "yes").status_code == 404
        assert (
            client.post(f"/family/privacy/consents/{school.child_a.pk}/nothing/", {"agree": "yes"}).status_code == 404
        )

    def test_it_needs_the_csrf_token(self, school, photos):
        client = Client(enforce_csrf_checks=True)
        client.force_login(school.guardian.user)
        assert self.decide(client, school, "yes").status_code == 403
        assert not ConsentDecision.objects.exists()

    def test_the_banner_counts_what_waits_for_an_answer_on_every_family_page(self, school, photos):
        client = client_for(school, "guardian")
        for path in ("/family/", f"/family/children/{school.child_a.pk}/", "/family/privacy/"):
            assert "1 consent question waits for your answer" in client.get(path).content.decode()
        self.decide(client, school, "yes")
        assert "consent question" not in client.get("/family/").content.decode()


class TestPaperForms:
    def test_office_staff_record_a_paper_form_for_a_guardian_with_parental_responsibility(self, school, photos):
        client = client_for(school, "office")
        found = client.get("/staff/privacy/paper-forms/", {"q": "A0001"}).content.decode()
        assert f"/staff/privacy/paper-forms/{school.child_a.pk}/" in found
        response = client.post(
            f"/staff/privacy/paper-forms/{school.child_a.pk}/",
            {"guardian": school.guardian.pk, "purpose": photos.pk, "decision": "granted"},
        )
        assert response.status_code == 302
        entry = ConsentDecision.objects.get()
        assert (entry.guardian, entry.decision, entry.method, entry.recorded_by) == (
            school.guardian,
            "granted",
            "paper_form",
            school.office,
        )
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "granted"
        page = client.get(response["Location"]).content.decode()
        assert "entered by Owen Office" in page

    def test_a_guardian_without_parental_responsibility_cannot_be_chosen(self, school, photos):
        carer = make_guardian(user=make_user(first_name="Cara", last_name="Carer"))
        Guardianship.objects.create(
            guardian=carer, student=school.child_a, relationship="carer", parental_responsibility=False
        )
        client = client_for(school, "office")
        assert "Cara Carer" not in client.get(f"/staff/privacy/paper-forms/{school.child_a.pk}/").content.decode()
        response = client.post(
            f"/staff/privacy/paper-forms/{school.child_a.pk}/",
            {"guardian": carer.pk, "purpose": photos.pk, "decision": "granted"},
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not ConsentDecision.objects.exists()

    def test_a_child_who_was_deleted_is_not_found(self, school, photos):
        school.child_a.deleted_at = timezone.now()
        school.child_a.save()
        assert client_for(school, "office").get(f"/staff/privacy/paper-forms/{school.child_a.pk}/").status_code == 404


class TestConsentTexts:
    def test_a_re_consent_version_turns_grants_into_needs_re_consent_and_shows_the_banner(
        self, school, officer, photos
    ):
        family = client_for(school, "guardian")
        family.post(f"/family/privacy/consents/{school.child_a.pk}/photos/", {"agree": "yes"})
        assert "consent question" not in family.get("/family/").content.decode()

        response = client_for(school, "officer", officer).post(
            "/staff/privacy/texts/photos/", {"text": "We may publish photos and videos.", "requires_reconsent": "on"}
        )
        assert response["Location"] == "/staff/privacy/texts/photos/"
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "needs_reconsent"
        assert list(photos.texts.values_list("version", "status")) == [(2, "active"), (1, "archived")]

        assert "1 consent question waits for your answer" in family.get("/family/").content.decode()
        page = family.get("/family/privacy/consents/").content.decode()
        assert "We may publish photos and videos." in page
        assert "Agree to the new text" in page and "to an earlier version of the text" in page
        family.post(f"/family/privacy/consents/{school.child_a.pk}/photos/", {"agree": "yes"})
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "granted"

    def test_a_version_without_re_consent_keeps_the_grants(self, school, photos):
        consent.consent_record(
            student=school.child_a, purpose=photos, guardian=school.guardian, decision="granted", method="family_page"
        )
        client_for(school, "admin").post("/staff/privacy/texts/photos/", {"text": "Fixed a typo."})
        assert ConsentState.objects.get(student=school.child_a, purpose=photos).state == "granted"
        assert photos.active_text().text == "Fixed a typo."

    def test_an_empty_text_is_refused(self, school, officer, photos):
        response = client_for(school, "officer", officer).post("/staff/privacy/texts/photos/", {"text": "  "})
        assert response.status_code == 200
        assert photos.texts.count() == 1

    def test_office_staff_cannot_publish(self, school, photos):
        response = client_for(school, "office").post("/staff/privacy/texts/photos/", {"text": "Sneaky."})
        assert response.status_code == 403
        assert photos.texts.count() == 1


class TestRequests:
    def test_a_parent_asks_the_officer_approves_and_the_parent_downloads_a_complete_zip(self, school, officer, photos):
        family = client_for(school, "guardian")
        response = family.post("/family/privacy/", {"kind": "export", "about": str(school.child_a.pk)})
        assert response["Location"] == "/family/privacy/"
        request = PrivacyRequest.objects.get()
        assert (request.kind, request.subject_student, request.via) == ("export", school.child_a, "family_page")
        assert "Pending" in family.get("/family/privacy/").content.decode()

        desk = client_for(school, "officer", officer)
        queue = desk.get("/staff/privacy/requests/").content.decode()
        assert f"/staff/privacy/requests/{request.pk}/" in queue and "Amira Ahmed (A0001)" in queue
        desk.post(f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "approve"})
        run_queued_tasks()
        request.refresh_from_db()
        assert request.status == "ready"

        page = family.get("/family/privacy/").content.decode()
        link = f"/family/privacy/downloads/{request.download_token}/"
        assert link in page
        response = family.get(link)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].startswith("attachment;")
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        manifest = json.loads(archive.read("manifest.json"))
        apps = sorted(provider.app_label for provider in providers())
        assert manifest["apps"] == apps
        assert sorted(archive.namelist()) == sorted(["manifest.json", *(f"{app}.json" for app in apps)])
        assert json.loads(archive.read("students.json"))["student"]["rollNumber"] == "A0001"

    def test_a_rejection_needs_a_reason_and_the_parent_reads_it(self, school, officer, photos):
        request = services.request_create(kind="erasure", requested_by=school.guardian.user, via="family_page")
        desk = client_for(school, "officer", officer)
        response = desk.post(f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "reject", "reason": " "})
        assert response.status_code == 400
        assert "Say why the request is rejected" in response.content.decode()
        request.refresh_from_db()
        assert request.status == "pending"

        reason = "Your child's records are needed while the safeguarding review is open."
        desk.post(f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "reject", "reason": reason})
        request.refresh_from_db()
        assert (request.status, request.decided_by) == ("rejected", officer)
        page = client_for(school, "guardian").get("/family/privacy/").content.decode()
        assert "Why the school said no" in page and "safeguarding review is open" in page

    def test_a_request_already_decided_cannot_be_decided_again(self, school, officer, photos):
        request = services.request_create(kind="erasure", requested_by=school.guardian.user, via="family_page")
        desk = client_for(school, "officer", officer)
        desk.post(f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "reject", "reason": "No."})
        response = desk.post(f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "approve"}, follow=True)
        assert "already rejected" in response.content.decode()
        request.refresh_from_db()
        assert request.status == "rejected"

    def test_the_parent_sees_what_an_erasure_erased_and_what_was_kept_and_why(self, school, officer, photos):
        client_for(school, "guardian").post("/family/privacy/", {"kind": "erasure", "about": str(school.child_a.pk)})
        request = PrivacyRequest.objects.get()
        client_for(school, "officer", officer).post(
            f"/staff/privacy/requests/{request.pk}/decide/", {"decision": "approve"}
        )
        run_queued_tasks()
        request.refresh_from_db()
        assert request.status == "completed"
        page = client_for(school, "guardian").get("/family/privacy/").content.decode()
        assert "a child whose record was erased" in page
        assert "Kept, and why" in page
        assert "so that a partner system&#x27;s next sync cannot bring the erased child back" in page

    def test_one_open_request_of_a_kind_at_a_time(self, school, photos):
        client = client_for(school, "guardian")
        client.post("/family/privacy/", {"kind": "export", "about": "me"})
        response = client.post("/family/privacy/", {"kind": "export", "about": "me"})
        assert response.status_code == 200
        assert "A request like this is already open." in response.content.decode()
        assert PrivacyRequest.objects.get().subject_user == school.guardian.user

    def test_a_parent_cannot_ask_about_another_family_child(self, school, photos):
        response = client_for(school, "guardian").post(
            "/family/privacy/", {"kind": "export", "about": str(school.child_b.pk)}
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not PrivacyRequest.objects.exists()

    def test_a_download_by_another_parent_is_not_found(self, school, officer, photos):
        export = ready_export(school, officer)
        response = client_for(school, "outsider").get(f"/family/privacy/downloads/{export.download_token}/")
        assert response.status_code == 404
        assert (
            client_for(school, "guardian").get(f"/family/privacy/downloads/{export.download_token}/").status_code == 200
        )

    def test_an_expired_download_says_so_and_deletes_the_file(self, school, officer, photos):
        export = ready_export(school, officer)
        path = services.export_dir() / export.export_file
        assert path.exists()
        PrivacyRequest.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        response = client_for(school, "guardian").get(f"/family/privacy/downloads/{export.download_token}/")
        assert response.status_code == 410
        assert "This download has expired" in response.content.decode()
        assert not path.exists()
        export.refresh_from_db()
        assert export.status == "expired"
        assert "This download has expired. You can ask for a new copy" in (
            client_for(school, "guardian").get("/family/privacy/").content.decode()
        )

    def test_an_unknown_download_is_not_found(self, school, photos):
        response = client_for(school, "guardian").get("/family/privacy/downloads/7c9e6679-7425-40de-944b-e07fc1f90ae7/")
        assert response.status_code == 404

    def test_the_officer_retries_a_failed_request(self, school, officer, photos):
        request = services.request_create(kind="export", requested_by=school.guardian.user, via="family_page")
        PrivacyRequest.objects.filter(pk=request.pk).update(status="failed", last_error="students: OSError: disk full")
        desk = client_for(school, "officer", officer)
        page = desk.get(f"/staff/privacy/requests/{request.pk}/").content.decode()
        assert "disk full" in page and "Try again" in page
        desk.post(f"/staff/privacy/requests/{request.pk}/retry/")
        run_queued_tasks()
        request.refresh_from_db()
        assert request.status == "ready"

    def test_only_a_failed_request_is_retried(self, school, officer, photos):
        request = services.request_create(kind="export", requested_by=school.guardian.user, via="family_page")
        response = client_for(school, "officer", officer).post(
            f"/staff/privacy/requests/{request.pk}/retry/", follow=True
        )
        assert "Only a failed request can be retried." in response.content.decode()
        assert run_queued_tasks() == 0

    def test_office_staff_open_a_request_on_a_family_behalf(self, school, photos):
        client = client_for(school, "office")
        response = client.post(
            "/staff/privacy/requests/new/", {"kind": "export", "about": "child", "roll_number": "a0001"}
        )
        assert response["Location"] == "/staff/privacy/requests/new/"
        request = PrivacyRequest.objects.get()
        assert (request.subject_student, request.requested_by, request.via) == (school.child_a, school.office, "staff")
        response = client.post(
            "/staff/privacy/requests/new/", {"kind": "erasure", "about": "guardian", "email": "PARENT@family.test"}
        )
        assert PrivacyRequest.objects.get(kind="erasure").subject_user == school.guardian.user

    def test_a_request_on_behalf_names_someone_who_exists(self, school, photos):
        client = client_for(school, "office")
        response = client.post(
            "/staff/privacy/requests/new/", {"kind": "export", "about": "child", "roll_number": "Z9"}
        )
        assert "No child on the roll has this roll number." in response.content.decode()
        response = client.post(
            "/staff/privacy/requests/new/", {"kind": "export", "about": "guardian", "email": "teacher@school.test"}
        )
        assert "No parent or guardian has this e-mail or username." in response.content.decode()
        assert not PrivacyRequest.objects.exists()

    def test_the_queue_flags_overdue_and_due_soon_requests(self, school, officer, photos):
        late = services.request_create(kind="export", requested_by=school.guardian.user, via="family_page")
        soon = services.request_create(kind="export", requested_by=school.outsider.user, via="family_page")
        PrivacyRequest.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=1))
        PrivacyRequest.objects.filter(pk=soon.pk).update(due_on=timezone.localdate() + timedelta(days=3))
        response = client_for(school, "officer", officer).get("/staff/privacy/requests/")
        page = response.content.decode()
        assert 'data-figure="overdue">1<' in page and 'data-figure="due-soon">2<' in page
        assert page.count('class="flag overdue"') == 1 and page.count('class="flag soon"') == 1


class TestCoverage:
    def test_whole_school_staff_see_every_class_group(self, school, photos):
        consent.consent_record(
            student=school.child_a, purpose=photos, guardian=school.guardian, decision="granted", method="family_page"
        )
        response = client_for(school, "office").get("/staff/privacy/")
        [row] = response.context["by_purpose"]
        assert (row["total"], row["granted"], row["not_asked"]) == (2, 1, 1)
        groups = {str(r["class_group"]): (r["granted"], r["total"]) for r in response.context["by_class_group"]}
        assert groups == {"7A": (1, 1), "7B": (0, 1)}

    def test_a_teacher_sees_only_their_own_class_groups(self, school, photos):
        response = client_for(school, "teacher").get("/staff/privacy/")
        [row] = response.context["by_purpose"]
        assert row["total"] == 1
        assert [str(r["class_group"]) for r in response.context["by_class_group"]] == ["7A"]
        page = response.content.decode()
        assert "Amira" not in page and "7B" not in page


class TestDisclosures:
    @pytest.fixture
    def log(self, school: School, photos: Purpose) -> dict[str, Any]:
        timetable, _ = make_partner("students:read", name="Timetable")
        canteen, _ = make_partner("students:read", name="Canteen")
        first = Disclosure.objects.create(
            application=timetable, purpose=photos, entity="students", path="/api/students", record_count=2
        )
        DisclosedStudent.objects.bulk_create(
            [DisclosedStudent(disclosure=first, student=s) for s in (school.child_a, school.child_b)]
        )
        second = Disclosure.objects.create(application=canteen, entity="students", path="/api/students", record_count=1)
        DisclosedStudent.objects.create(disclosure=second, student=school.child_b)
        Disclosure.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=10))
        return {"timetable": timetable, "canteen": canteen, "first": first, "second": second}

    def test_parents_see_which_systems_saw_their_child_and_when(self, school, log):
        page = client_for(school, "guardian").get("/family/privacy/shared/").content.decode()
        assert "Timetable" in page and "Photos on the website" in page and "Amira's details" in page
        assert "Canteen" not in page  # it saw only another family's child

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, ["second", "first"]),
            ({"application": "canteen"}, ["second"]),
            ({"child": "amira"}, ["first"]),
            ({"child": "B0001"}, ["second", "first"]),
            ({"date_to": "{five_days_ago}"}, ["first"]),
            ({"date_from": "{five_days_ago}"}, ["second"]),
        ],
    )
    def test_the_officer_searches_the_log(self, school, officer, log, query, expected):
        five_days_ago = (timezone.localdate() - timedelta(days=5)).isoformat()
        params = {
            key: log[value].pk if key == "application" else value.format(five_days_ago=five_days_ago)
            for key, value in query.items()
        }
        response = client_for(school, "officer", officer).get("/staff/privacy/disclosures/", params)
        assert [d.pk for d in response.context["page"]] == [log[name].pk for name in expected]

    def test_a_child_search_names_the_children_found(self, school, officer, log):
        page = client_for(school, "officer", officer).get("/staff/privacy/disclosures/", {"child": "amira"})
        assert "Amira Ahmed (A0001)" in page.content.decode()

    def test_the_log_is_paginated_and_keeps_the_search(self, school, officer, log):
        for _ in range(30):
            Disclosure.objects.create(
                application=log["canteen"], entity="students", path="/api/students", record_count=1
            )
        response = client_for(school, "officer", officer).get(
            "/staff/privacy/disclosures/", {"application": log["canteen"].pk}
        )
        assert response.context["page"].paginator.count == 31
        assert len(response.context["page"]) == 25
        assert f"?application={log['canteen'].pk}&amp;page=2" in response.content.decode()


class TestAdmin:
    @pytest.fixture
    def superuser(self, school: School) -> Client:
        client = Client()
        client.force_login(make_user("root@school.test", is_staff=True, is_superuser=True))
        return client

    def test_every_privacy_model_has_an_admin_page(self, school, photos, superuser):
        consent.consent_record(
            student=school.child_a, purpose=photos, guardian=school.guardian, decision="granted", method="family_page"
        )
        client = superuser
        models = [
            "purpose",
            "purposetext",
            "consentdecision",
            "consentstate",
            "partnerpurpose",
            "disclosure",
            "disclosedstudent",
            "privacyrequest",
            "retentionpolicy",
            "suppressedrollnumber",
        ]
        for model in models:
            assert client.get(f"/admin/privacy/{model}/").status_code == 200, model

    def test_the_consent_ledger_cannot_be_changed_or_deleted_in_the_admin(self, school, photos, superuser):
        entry = consent.consent_record(
            student=school.child_a, purpose=photos, guardian=school.guardian, decision="granted", method="family_page"
        )
        client = superuser
        page = client.get(f"/admin/privacy/consentdecision/{entry.pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert (
            client.post(f"/admin/privacy/consentdecision/{entry.pk}/change/", {"decision": "refused"}).status_code
            == 403
        )
        assert client.post(f"/admin/privacy/consentdecision/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.get("/admin/privacy/consentdecision/add/").status_code == 403
        entry.refresh_from_db()
        assert entry.decision == "granted"

    def test_a_request_outcome_is_read_only_but_its_due_date_may_be_extended(self, school, photos, superuser):
        request = services.request_create(kind="export", requested_by=school.guardian.user, via="family_page")
        page = superuser.get(f"/admin/privacy/privacyrequest/{request.pk}/change/").content.decode()
        assert 'name="due_on"' in page
        assert 'name="outcome"' not in page and 'name="status"' not in page


class TestQueryCounts:
    def count(self, client: Client, path: str) -> tuple[Any, CaptureQueriesContext]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200
        return response, queries

    def test_the_family_consent_page_costs_the_same_for_one_child_or_many(self, school, photos):
        client = client_for(school, "guardian")
        _, few = self.count(client, "/family/privacy/consents/")
        other = Purpose.objects.create(code="trips", title="Trips")
        PurposeText.objects.create(purpose=other, version=1, text="Trips.", status="active")
        for _ in range(4):
            child = make_student(make_class_group())
            Guardianship.objects.create(guardian=school.guardian, student=child, relationship="mother")
            for purpose in (photos, other):
                consent.consent_record(
                    student=child, purpose=purpose, guardian=school.guardian, decision="granted", method="family_page"
                )
        response, many = self.count(client, "/family/privacy/consents/")
        assert len(response.context["children"]) == 5
        # session, user, guardian profile, the unread count in the navigation; the guardian's children, the
        # purposes, their texts, the states, the decisions (the banner reuses the page's count)
        assert len(many) == len(few) == 9, [q["sql"] for q in many.captured_queries]

    def test_the_request_queue_costs_the_same_for_one_request_or_many(self, school, officer, photos):
        client = client_for(school, "officer", officer)
        services.request_create(kind="export", requested_by=school.guardian.user, via="family_page")
        _, few = self.count(client, "/staff/privacy/requests/")
        for n in range(6):
            user = make_guardian(make_student(school.class_a)).user
            made = services.request_create(kind="export" if n % 2 else "erasure", requested_by=user, via="family_page")
            if n % 3 == 0:
                services.request_decide(officer=officer, request=made, approve=False, reason="No.")
        _, many = self.count(client, "/staff/privacy/requests/")
        # session, user, roles, the unread count in the navigation; the open requests, due soon, overdue, the
        # recently closed, counts by status
        assert len(many) == len(few) == 9, [q["sql"] for q in many.captured_queries]

    @pytest.mark.parametrize("persona", ["office", "teacher"])
    def test_the_coverage_page_costs_the_same_for_two_class_groups_or_many(self, school, photos, persona):
        client = client_for(school, persona)
        _, few = self.count(client, "/staff/privacy/")
        for n in range(5):
            group = make_class_group(f"8{n}", tutor=school.teacher)
            student = make_student(group)
            make_guardian(student)
            consent.consent_record(
                student=student,
                purpose=photos,
                guardian=student.guardianships.get().guardian,
                decision="granted",
                method="family_page",
            )
        response, many = self.count(client, "/staff/privacy/")
        assert len(response.context["by_class_group"]) in (6, 7)
        # session, user, roles, the unread count in the navigation; by purpose: children, states, purposes; by
        # class group: totals, states, groups
        assert len(many) == len(few) == 10, [q["sql"] for q in many.captured_queries]

    def test_the_disclosure_log_costs_the_same_for_one_row_or_a_full_page(self, school, officer, photos):
        app, _ = make_partner("students:read", name="Timetable")
        client = client_for(school, "officer", officer)

        def disclose() -> None:
            disclosure = Disclosure.objects.create(
                application=app, purpose=photos, entity="students", path="/api/students", record_count=1
            )
            DisclosedStudent.objects.create(disclosure=disclosure, student=school.child_a)

        disclose()
        _, few = self.count(client, "/staff/privacy/disclosures/?child=amira")
        for _ in range(30):
            disclose()
        response, many = self.count(client, "/staff/privacy/disclosures/?child=amira")
        assert len(response.context["page"]) == 25
        # session, user, roles, the unread count in the navigation; the applications to filter by, the count,
        # the page, the children found on it
        assert len(many) == len(few) == 8, [q["sql"] for q in many.captured_queries]
