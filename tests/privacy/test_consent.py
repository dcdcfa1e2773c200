"""The consent ledger, the state derived from it on every transition, and the consent API of the guide."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from privacy import consent
from privacy.models import ConsentDecision, ConsentState, Purpose
from students import services as student_services
from students.models import Guardianship
from tests.factories import make_guardian, make_partner, make_student, make_user
from tests.privacy.conftest import decide, grant, purpose

pytestmark = pytest.mark.django_db

GRANTED = ConsentDecision.Decision.GRANTED
REFUSED = ConsentDecision.Decision.REFUSED
WITHDRAWN = ConsentDecision.Decision.WITHDRAWN
State = ConsentState.State
GUIDE_BODY = {"dataProcessing": True, "marketing": False, "thirdPartySharing": False}


def state_of(student, code: str) -> str:
    """Return the stored state, after checking that it agrees with the ledger."""
    stored = ConsentState.objects.filter(student=student, purpose=purpose(code)).values_list("state", flat=True)
    derived = consent.derive_state(student, purpose(code))
    assert (stored.first() or State.NOT_ASKED) == derived, "the stored state disagrees with the ledger"
    return derived


def assert_error(response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False and body["code"] == code
    assert body["requestId"] == response["X-Request-ID"]
    return body


class TestTransitions:
    def test_a_child_nobody_decided_for_is_not_asked(self, family):
        assert state_of(family.child, "photosOnWebsite") == State.NOT_ASKED

    def test_granted_then_withdrawn_then_granted_again(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED
        decide(family.child, "photosOnWebsite", family.mother, WITHDRAWN)
        assert state_of(family.child, "photosOnWebsite") == State.WITHDRAWN
        grant(family.child, "photosOnWebsite", family.mother)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_a_refusal_is_refused(self, family):
        decide(family.child, "schoolTrips", family.mother, REFUSED)
        assert state_of(family.child, "schoolTrips") == State.REFUSED

    def test_each_purpose_has_its_own_state(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        assert state_of(family.child, "schoolTrips") == State.NOT_ASKED

    def test_the_ledger_keeps_every_decision_with_who_what_which_text_and_how(self, family, school):
        grant(family.child, "photosOnWebsite", family.mother)
        consent.consent_record(
            student=family.child,
            purpose=purpose("photosOnWebsite"),
            guardian=family.mother,
            decision=WITHDRAWN,
            method=ConsentDecision.Method.PAPER_FORM,
            recorded_by=school.office,
        )
        entries = consent.history(family.child, purpose("photosOnWebsite"))
        assert [(e.decision, e.method) for e in entries] == [(WITHDRAWN, "paper_form"), (GRANTED, "family_page")]
        assert {e.guardian for e in entries} == {family.mother}
        assert {e.text.version for e in entries} == {1}
        assert entries[0].recorded_by == school.office
        assert entries[0].created_at >= entries[1].created_at

    def test_an_unknown_decision_is_refused(self, family):
        with pytest.raises(ValidationError):
            decide(family.child, "photosOnWebsite", family.mother, "maybe")
        assert not ConsentDecision.objects.exists()

    def test_a_purpose_without_a_published_text_cannot_be_agreed_to(self, family):
        new = Purpose.objects.create(code="clubs", title="After-school clubs")
        with pytest.raises(ValidationError):
            consent.consent_record(
                student=family.child, purpose=new, guardian=family.mother, decision=GRANTED, method="family_page"
            )


class TestTwoGuardians:
    def test_by_default_one_refusal_outweighs_a_grant(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        decide(family.child, "photosOnWebsite", family.father, REFUSED)
        assert state_of(family.child, "photosOnWebsite") == State.REFUSED
        grant(family.child, "photosOnWebsite", family.mother)  # granting again does not outvote the father
        assert state_of(family.child, "photosOnWebsite") == State.REFUSED
        grant(family.child, "photosOnWebsite", family.father)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_by_default_a_withdrawal_outweighs_a_grant(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        grant(family.child, "photosOnWebsite", family.father)
        decide(family.child, "photosOnWebsite", family.father, WITHDRAWN)
        assert state_of(family.child, "photosOnWebsite") == State.WITHDRAWN

    def test_the_latest_decision_wins_when_the_school_chose_that_rule(self, family, settings):
        settings.CONSENT_RULE = "latest_decision_wins"
        decide(family.child, "photosOnWebsite", family.father, REFUSED)
        grant(family.child, "photosOnWebsite", family.mother)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED
        decide(family.child, "photosOnWebsite", family.father, REFUSED)
        assert state_of(family.child, "photosOnWebsite") == State.REFUSED

    def test_a_guardian_without_parental_responsibility_cannot_decide(self, family):
        Guardianship.objects.filter(guardian=family.father).update(parental_responsibility=False)
        with pytest.raises(PermissionDenied):
            grant(family.child, "photosOnWebsite", family.father)
        assert not ConsentDecision.objects.exists()

    def test_a_guardian_of_another_child_cannot_decide(self, family, school):
        with pytest.raises(PermissionDenied):
            grant(family.child, "photosOnWebsite", school.outsider)

    def test_the_decision_of_a_guardian_who_lost_parental_responsibility_no_longer_counts(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        decide(family.child, "photosOnWebsite", family.father, REFUSED)
        link = Guardianship.objects.get(guardian=family.father, student=family.child)
        student_services.guardianship_update(guardianship=link, data={"parental_responsibility": False})
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_a_grant_stops_counting_when_its_guardian_is_unlinked(self, family, registered_partner):
        grant(family.child, "thirdPartySharing", family.mother)
        grant(family.child, "thirdPartySharing", family.father)
        partner = registered_partner("thirdPartySharing")
        assert partner.get(f"/api/students/{family.child.pk}").status_code == 200

        link = Guardianship.objects.get(guardian=family.father, student=family.child)
        student_services.guardianship_delete(guardianship=link)
        assert state_of(family.child, "thirdPartySharing") == State.GRANTED  # the mother's grant remains
        student_services.guardianship_update(
            guardianship=Guardianship.objects.get(guardian=family.mother), data={"parental_responsibility": False}
        )

        assert state_of(family.child, "thirdPartySharing") == State.NOT_ASKED
        assert partner.get(f"/api/students/{family.child.pk}").status_code == 404

    def test_a_guardian_given_parental_responsibility_again_counts_again(self, family):
        decide(family.child, "photosOnWebsite", family.father, REFUSED)
        link = Guardianship.objects.get(guardian=family.father, student=family.child)
        student_services.guardianship_update(guardianship=link, data={"parental_responsibility": False})
        assert state_of(family.child, "photosOnWebsite") == State.NOT_ASKED
        student_services.guardianship_update(guardianship=link, data={"parental_responsibility": True})
        assert state_of(family.child, "photosOnWebsite") == State.REFUSED


class TestReconsent:
    def test_a_text_that_requires_reconsent_turns_grants_into_needs_reconsent(self, family, school):
        other = make_student(school.class_a)
        make_guardian(other)
        grant(family.child, "photosOnWebsite", family.mother)
        decide(family.child, "schoolTrips", family.mother, GRANTED)
        decide(other, "photosOnWebsite", other.guardianships.get().guardian, REFUSED)

        new = consent.text_publish(
            purpose=purpose("photosOnWebsite"), text="Photos, now also on social media.", requires_reconsent=True
        )

        assert (new.version, new.status) == (2, "active")
        assert list(purpose("photosOnWebsite").texts.values_list("version", "status")) == [
            (2, "active"),
            (1, "archived"),
        ]
        assert state_of(family.child, "photosOnWebsite") == State.NEEDS_RECONSENT
        assert state_of(other, "photosOnWebsite") == State.REFUSED  # a refusal stays a refusal
        assert state_of(family.child, "schoolTrips") == State.GRANTED  # another purpose is untouched

    def test_a_grant_on_the_new_text_brings_back_granted(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        consent.text_publish(purpose=purpose("photosOnWebsite"), text="New wording.", requires_reconsent=True)
        entry = grant(family.child, "photosOnWebsite", family.mother)
        assert entry.text.version == 2
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_both_guardians_must_agree_again(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        grant(family.child, "photosOnWebsite", family.father)
        consent.text_publish(purpose=purpose("photosOnWebsite"), text="New wording.", requires_reconsent=True)
        grant(family.child, "photosOnWebsite", family.mother)
        assert state_of(family.child, "photosOnWebsite") == State.NEEDS_RECONSENT
        grant(family.child, "photosOnWebsite", family.father)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_a_text_published_without_reconsent_keeps_the_grants(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        consent.text_publish(purpose=purpose("photosOnWebsite"), text="Typo fixed.", requires_reconsent=False)
        assert state_of(family.child, "photosOnWebsite") == State.GRANTED

    def test_an_earlier_reconsent_version_still_counts_after_a_minor_one(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        consent.text_publish(purpose=purpose("photosOnWebsite"), text="Big change.", requires_reconsent=True)
        consent.text_publish(purpose=purpose("photosOnWebsite"), text="Typo fixed.", requires_reconsent=False)
        assert state_of(family.child, "photosOnWebsite") == State.NEEDS_RECONSENT

    def test_an_empty_text_is_not_published(self, family):
        with pytest.raises(ValidationError):
            consent.text_publish(purpose=purpose("photosOnWebsite"), text="  ", requires_reconsent=True)
        assert purpose("photosOnWebsite").texts.count() == 1


class TestLedgerIsAppendOnly:
    def test_saving_a_recorded_decision_again_raises(self, family):
        entry = grant(family.child, "photosOnWebsite", family.mother)
        entry.decision = REFUSED
        with pytest.raises(ValidationError):
            entry.save()
        assert ConsentDecision.objects.get().decision == GRANTED

    def test_a_change_of_mind_is_a_new_entry(self, family):
        grant(family.child, "photosOnWebsite", family.mother)
        decide(family.child, "photosOnWebsite", family.mother, WITHDRAWN)
        assert ConsentDecision.objects.count() == 2


class TestConsentApi:
    def test_a_guardian_reads_each_childs_state_per_purpose(self, family, user_api):
        grant(family.child, "photosOnWebsite", family.mother)
        response = user_api(family.mother.user).get("/api/privacy/consent")
        assert response.status_code == 200
        data = response.json()["data"]
        assert [child["studentId"] for child in data["children"]] == [family.child.pk]
        states = data["children"][0]["consents"]
        assert states["photosOnWebsite"] == "granted"
        assert states["schoolTrips"] == "not_asked"
        photos = next(p for p in data["purposes"] if p["code"] == "photosOnWebsite")
        assert photos["textVersion"] == 1 and photos["text"]

    def test_the_guides_body_grants_and_refuses(self, family, user_api):
        response = user_api(family.mother.user).put("/api/privacy/consent", GUIDE_BODY, format="json")
        assert response.status_code == 200, response.json()
        assert state_of(family.child, "dataProcessing") == State.GRANTED
        assert state_of(family.child, "marketing") == State.REFUSED
        assert state_of(family.child, "thirdPartySharing") == State.REFUSED
        entries = ConsentDecision.objects.filter(student=family.child)
        assert {(e.purpose.code, e.decision, e.method) for e in entries} == {
            ("dataProcessing", GRANTED, "api"),
            ("marketing", REFUSED, "api"),
            ("thirdPartySharing", REFUSED, "api"),
        }
        assert {e.recorded_by for e in entries} == {family.mother.user}
        assert all(e.recorded_by_app is not None for e in entries)
        assert response.json()["data"]["children"][0]["consents"]["marketing"] == "refused"

    def test_false_after_a_grant_is_a_withdrawal(self, family, user_api):
        api = user_api(family.mother.user)
        api.put("/api/privacy/consent", {"marketing": True}, format="json")
        assert state_of(family.child, "marketing") == State.GRANTED
        api.put("/api/privacy/consent", {"marketing": False}, format="json")
        assert state_of(family.child, "marketing") == State.WITHDRAWN
        api.put("/api/privacy/consent", {"marketing": False}, format="json")
        latest = ConsentDecision.objects.filter(purpose__code="marketing").order_by("-id").first()
        assert latest.decision == REFUSED  # a second "no" after a withdrawal is a refusal

    def test_a_guardian_decides_for_one_child_with_student_id(self, family, school, user_api):
        sibling = make_student(school.class_b)
        Guardianship.objects.create(guardian=family.mother, student=sibling, relationship="mother")
        api = user_api(family.mother.user)
        response = api.put("/api/privacy/consent", {"studentId": sibling.pk, "marketing": True}, format="json")
        assert response.status_code == 200, response.json()
        assert state_of(sibling, "marketing") == State.GRANTED
        assert state_of(family.child, "marketing") == State.NOT_ASKED

    def test_without_student_id_it_decides_for_every_child_with_parental_responsibility(self, family, school, user_api):
        sibling = make_student(school.class_b)
        Guardianship.objects.create(guardian=family.mother, student=sibling, relationship="mother")
        stepchild = make_student(school.class_b)
        Guardianship.objects.create(
            guardian=family.mother, student=stepchild, relationship="carer", parental_responsibility=False
        )
        user_api(family.mother.user).put("/api/privacy/consent", {"marketing": True}, format="json")
        assert state_of(family.child, "marketing") == State.GRANTED
        assert state_of(sibling, "marketing") == State.GRANTED
        assert state_of(stepchild, "marketing") == State.NOT_ASKED

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"marketing": True, "newsletterForever": True}, "newsletterForever"),
            ({"marketing": "yes"}, "marketing"),
            ({"marketing": 1}, "marketing"),
            ({"marketing": None}, "marketing"),
        ],
    )
    def test_an_unknown_purpose_or_a_value_that_is_not_a_boolean_is_a_400(self, family, user_api, body, field):
        response = user_api(family.mother.user).put("/api/privacy/consent", body, format="json")
        body = assert_error(response, 400, "validation_error")
        assert field in {detail["field"] for detail in body["details"]}
        assert not ConsentDecision.objects.exists()

    @pytest.mark.parametrize("body", [{}, [], "marketing"])
    def test_a_body_that_is_not_an_object_of_purposes_is_a_400(self, family, user_api, body):
        response = user_api(family.mother.user).put("/api/privacy/consent", body, format="json")
        assert_error(response, 400, "validation_error")
        assert not ConsentDecision.objects.exists()

    def test_another_familys_child_is_a_400_and_nothing_is_recorded(self, family, school, user_api):
        response = user_api(family.mother.user).put(
            "/api/privacy/consent", {"studentId": school.child_b.pk, "marketing": True}, format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert body["details"][0]["field"] == "studentId"
        assert not ConsentDecision.objects.exists()

    @pytest.mark.parametrize("student_id", ["abc", 1.5, [1]])
    def test_a_student_id_that_is_not_a_number_is_a_400(self, family, user_api, student_id):
        response = user_api(family.mother.user).put(
            "/api/privacy/consent", {"studentId": student_id, "marketing": True}, format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert body["details"][0]["field"] == "studentId"
        assert not ConsentDecision.objects.exists()

    def test_nothing_is_recorded_when_one_purpose_of_the_body_fails(self, family, user_api):
        Purpose.objects.create(code="clubs", title="After-school clubs")  # no published text yet
        response = user_api(family.mother.user).put(
            "/api/privacy/consent", {"marketing": True, "clubs": True}, format="json"
        )
        assert_error(response, 400, "validation_error")
        assert not ConsentDecision.objects.exists()
        assert not ConsentState.objects.exists()

    def test_a_guardian_without_parental_responsibility_is_refused_with_403(self, family, user_api):
        Guardianship.objects.filter(guardian=family.father).update(parental_responsibility=False)
        response = user_api(family.father.user).put(
            "/api/privacy/consent", {"studentId": family.child.pk, "marketing": True}, format="json"
        )
        assert_error(response, 403, "permission_denied")
        assert not ConsentDecision.objects.exists()

    def test_a_member_of_staff_is_not_a_guardian(self, school, user_api):
        response = user_api(school.teacher).put("/api/privacy/consent", {"marketing": True}, format="json")
        assert_error(response, 403, "permission_denied")

    def test_a_client_credentials_token_is_refused_with_403(self, family, partner_api):
        api = partner_api("privacy")
        assert_error(api.get("/api/privacy/consent"), 403, "permission_denied")
        assert_error(api.put("/api/privacy/consent", {"marketing": True}, format="json"), 403, "permission_denied")
        assert not ConsentDecision.objects.exists()

    def test_a_token_without_the_privacy_scope_is_refused(self, family, user_api):
        response = user_api(family.mother.user, scope="students:read").get("/api/privacy/consent")
        assert response.status_code == 403

    def test_a_partner_app_without_purposes_may_still_record_a_parents_consent(self, family):
        # The guide's client is registered for no purpose: its users' requests carry none.
        app, secret = make_partner("privacy", grant="password", name="Parent app")
        from tests.conftest import client_with, obtain_token
        from tests.factories import PASSWORD

        token = obtain_token(
            {
                "grant_type": "password",
                "username": family.mother.user.username,
                "password": PASSWORD,
                "client_id": app.client_id,
                "client_secret": secret,
            }
        )
        response = client_with(token["access_token"]).put("/api/privacy/consent", {"marketing": True}, format="json")
        assert response.status_code == 200
        assert ConsentDecision.objects.get().recorded_by_app == app


def test_a_new_guardian_account_has_no_say_until_linked(family):
    stranger = make_guardian(user=make_user("stranger@family.test"))
    with pytest.raises(PermissionDenied):
        grant(family.child, "photosOnWebsite", stranger)
