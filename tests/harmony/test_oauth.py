"""OAuth2 from the outside: every grant, token lifetimes and rotation, revocation, introspection, storage."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.contrib.auth.hashers import identify_hasher
from django.core.management import CommandError, call_command
from django.db import connection
from oauth2_provider.models import AccessToken, Grant, RefreshToken
from rest_framework.test import APIClient

from harmony.hashers import ClientSecretHasher
from harmony.models import Application
from tests.conftest import client_with, obtain_token
from tests.factories import PASSWORD, make_partner, make_user

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://partner.example/callback"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def token_request(data: dict[str, str], **extra: Any) -> Any:
    return APIClient().post("/api/oauth/token", data, **extra)


def client_credentials(app: Application, secret: str, **more: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret, **more}


def password_grant(app: Application, secret: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": app.client_id,
        "client_secret": secret,
        "username": username,
        "password": password,
    }


def refresh(app: Application, secret: str, refresh_token: str) -> Any:
    return token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": app.client_id,
            "client_secret": secret,
        }
    )


def assert_oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    """Assert an RFC 6749 error that also carries Harmony's envelope."""
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert body["success"] is False
    assert body["code"] == error
    assert isinstance(body["details"], list) and body["details"]
    assert body["requestId"] == response["X-Request-ID"]
    return body


def api_status(access_token: str) -> int:
    return client_with(access_token).get("/api/students").status_code


@pytest.fixture
def reader(db: Any) -> tuple[Application, str]:
    return make_partner("students:read attendance:read", name="Timetable system")


@pytest.fixture
def parent_app(db: Any) -> tuple[Application, str]:
    return make_partner("students:read attendance:read", grant="password", name="Parent app")


@pytest.fixture
def parent(db: Any) -> Any:
    return make_user("parent@family.test")


class TestClientCredentials:
    def test_it_issues_an_hour_long_bearer_token_with_the_granted_scopes(self, reader):
        token = obtain_token(client_credentials(*reader))
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 3600
        assert token["scope"].split() == ["students:read", "attendance:read"]
        assert "refresh_token" not in token
        assert api_status(token["access_token"]) == 200

    def test_it_narrows_the_token_to_the_scopes_asked_for(self, reader):
        token = obtain_token(client_credentials(*reader, scope="attendance:read"))
        assert token["scope"] == "attendance:read"
        assert api_status(token["access_token"]) == 403

    def test_it_refuses_a_scope_the_school_did_not_grant(self, reader):
        response = token_request(client_credentials(*reader, scope="students:read students:write"))
        body = assert_oauth_error(response, 400, "invalid_scope")
        assert body["details"][0]["message"] == body["error_description"]
        assert not AccessToken.objects.exists()

    def test_it_refuses_a_scope_that_does_not_exist(self, reader):
        assert_oauth_error(token_request(client_credentials(*reader, scope="introspection")), 400, "invalid_scope")

    def test_it_refuses_a_wrong_secret(self, reader):
        app, _secret = reader
        response = token_request(client_credentials(app, "not-the-secret"))
        assert_oauth_error(response, 401, "invalid_client")
        assert not AccessToken.objects.exists()

    def test_it_refuses_an_unknown_client(self, reader):
        _app, secret = reader
        response = token_request({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": secret})
        assert_oauth_error(response, 401, "invalid_client")

    def test_it_accepts_http_basic_client_authentication(self, reader):
        app, secret = reader
        basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
        response = token_request({"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}")
        assert response.status_code == 200, response.content

    def test_the_token_endpoint_refuses_get_in_the_envelope(self, reader):
        app, secret = reader
        response = APIClient().get("/api/oauth/token", client_credentials(app, secret))
        assert response.status_code == 405
        body = response.json()
        assert (body["success"], body["code"]) == (False, "method_not_allowed")
        assert body["requestId"] == response["X-Request-ID"]
        assert "POST" in response["Allow"]
        assert not AccessToken.objects.exists()


class TestPasswordGrant:
    def test_it_signs_a_user_in_through_an_app_registered_for_it(self, parent_app, parent):
        token = obtain_token(password_grant(*parent_app, parent.username))
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 3600
        assert token["refresh_token"]
        assert AccessToken.objects.get().user == parent

    def test_a_client_credentials_app_may_not_use_it(self, reader, parent):
        response = token_request(password_grant(*reader, parent.username))
        assert_oauth_error(response, 400, "unauthorized_client")
        assert not AccessToken.objects.exists()

    def test_it_refuses_a_wrong_password(self, parent_app, parent):
        response = token_request(password_grant(*parent_app, parent.username, password="wrong-password"))
        assert_oauth_error(response, 400, "invalid_grant")
        assert not AccessToken.objects.exists()

    def test_it_refuses_a_disabled_account(self, parent_app, parent):
        parent.is_active = False
        parent.save()
        assert_oauth_error(token_request(password_grant(*parent_app, parent.username)), 400, "invalid_grant")


class TestRefreshTokens:
    def test_a_refresh_gives_a_new_pair_and_the_old_refresh_token_stops_working(self, parent_app, parent):
        first = obtain_token(password_grant(*parent_app, parent.username))
        response = refresh(*parent_app, first["refresh_token"])
        assert response.status_code == 200, response.content
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert second["scope"] == first["scope"]
        assert api_status(second["access_token"]) == 200
        assert api_status(first["access_token"]) == 401

        assert_oauth_error(refresh(*parent_app, first["refresh_token"]), 400, "invalid_grant")

    def test_reusing_an_old_refresh_token_revokes_the_whole_family(self, parent_app, parent):
        first = obtain_token(password_grant(*parent_app, parent.username))
        second = refresh(*parent_app, first["refresh_token"]).json()
        third = refresh(*parent_app, second["refresh_token"]).json()
        assert api_status(third["access_token"]) == 200

        assert_oauth_error(refresh(*parent_app, first["refresh_token"]), 400, "invalid_grant")

        assert api_status(third["access_token"]) == 401
        assert_oauth_error(refresh(*parent_app, third["refresh_token"]), 400, "invalid_grant")

    def test_reuse_does_not_touch_another_sign_in_of_the_same_user(self, parent_app, parent):
        stolen = obtain_token(password_grant(*parent_app, parent.username))
        other_device = obtain_token(password_grant(*parent_app, parent.username))
        refresh(*parent_app, stolen["refresh_token"])
        refresh(*parent_app, stolen["refresh_token"])
        assert api_status(other_device["access_token"]) == 200
        assert refresh(*parent_app, other_device["refresh_token"]).status_code == 200

    def test_a_refresh_token_belongs_to_its_application(self, parent_app, parent):
        other_app, other_secret = make_partner("students:read", grant="password", name="Other app")
        token = obtain_token(password_grant(*parent_app, parent.username))
        assert_oauth_error(refresh(other_app, other_secret, token["refresh_token"]), 400, "invalid_grant")

    def test_an_access_token_expires_after_an_hour(self, parent_app, parent):
        with time_machine.travel(START, tick=False) as clock:
            token = obtain_token(password_grant(*parent_app, parent.username))
            clock.move_to(START + timedelta(minutes=59))
            assert api_status(token["access_token"]) == 200
            clock.move_to(START + timedelta(hours=1, seconds=1))
            assert api_status(token["access_token"]) == 401

    def test_a_refresh_token_still_works_just_before_14_days(self, parent_app, parent):
        with time_machine.travel(START, tick=False) as clock:
            token = obtain_token(password_grant(*parent_app, parent.username))
            clock.move_to(START + timedelta(days=13, hours=23))
            assert refresh(*parent_app, token["refresh_token"]).status_code == 200

    def test_a_refresh_token_expires_14_days_after_its_access_token(self, parent_app, parent):
        with time_machine.travel(START, tick=False) as clock:
            token = obtain_token(password_grant(*parent_app, parent.username))
            clock.move_to(START + timedelta(hours=1) + timedelta(days=14))
            assert_oauth_error(refresh(*parent_app, token["refresh_token"]), 400, "invalid_grant")


class ConsentForm(HTMLParser):
    """Collect the fields of the consent form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class TestAuthorizationCodeWithPkce:
    @pytest.fixture
    def signed_in(self, client: Any) -> Any:
        client.force_login(make_user("teacher@school.test"))
        return client

    def authorize(self, client: Any, app: Application, **params: str) -> Any:
        query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI, **params}
        return client.get(f"/api/oauth/authorize?{urlencode(query)}")

    def consent(self, client: Any, page: Any) -> Any:
        assert page.status_code == 200, page.content
        form = ConsentForm()
        form.feed(page.content.decode())
        return client.post("/api/oauth/authorize", {**form.fields, "allow": "Authorize"})

    def code_from(self, response: Any) -> str:
        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        return query["code"][0]

    def exchange(self, app: Application, secret: str, code: str, **more: str) -> Any:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": app.client_id,
            "client_secret": secret,
            **more,
        }
        return token_request(data)

    @pytest.fixture
    def teacher_app_with_redirect(self, db: Any) -> tuple[Application, str]:
        out = io.StringIO()
        call_command(
            "create_partner_app",
            "--name",
            "Homework app",
            "--scopes",
            "students:read attendance:read",
            "--grant",
            "authorization-code",
            "--redirect-uri",
            REDIRECT_URI,
            stdout=out,
        )
        credentials = json.loads(out.getvalue())
        return Application.objects.get(client_id=credentials["client_id"]), credentials["client_secret"]

    def test_a_signed_in_user_consents_and_the_app_exchanges_the_code_with_its_verifier(
        self, signed_in, teacher_app_with_redirect
    ):
        app, secret = teacher_app_with_redirect
        verifier, challenge = pkce_pair()
        page = self.authorize(
            signed_in,
            app,
            scope="students:read",
            state="xyz",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        assert "Homework app" in page.content.decode()
        code = self.code_from(self.consent(signed_in, page))

        response = self.exchange(app, secret, code, code_verifier=verifier)
        assert response.status_code == 200, response.content
        token = response.json()
        assert token["scope"] == "students:read"
        assert token["expires_in"] == 3600
        assert AccessToken.objects.get().user.username == "teacher@school.test"
        assert_oauth_error(self.exchange(app, secret, code, code_verifier=verifier), 400, "invalid_grant")

    def test_the_code_is_useless_without_the_verifier(self, signed_in, teacher_app_with_redirect):
        app, secret = teacher_app_with_redirect
        _verifier, challenge = pkce_pair()
        page = self.authorize(
            signed_in, app, scope="students:read", state="xyz", code_challenge=challenge, code_challenge_method="S256"
        )
        code = self.code_from(self.consent(signed_in, page))
        response = self.exchange(app, secret, code)
        assert response.status_code == 400
        assert response.json()["error"] in {"invalid_request", "invalid_grant"}
        assert_oauth_error(self.exchange(app, secret, code, code_verifier=pkce_pair()[0]), 400, "invalid_grant")
        assert not AccessToken.objects.exists()

    def test_an_authorization_request_without_pkce_is_refused(self, signed_in, teacher_app_with_redirect):
        app, _secret = teacher_app_with_redirect
        response = self.authorize(signed_in, app, scope="students:read", state="xyz")
        assert response.status_code == 302
        query = parse_qs(urlsplit(response["Location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "code" not in query

    def test_the_plain_pkce_method_is_refused(self, signed_in, teacher_app_with_redirect):
        app, _secret = teacher_app_with_redirect
        verifier, _challenge = pkce_pair()
        page = self.authorize(
            signed_in, app, scope="students:read", state="xyz", code_challenge=verifier, code_challenge_method="plain"
        )
        response = self.consent(signed_in, page)
        assert response.status_code == 302
        query = parse_qs(urlsplit(response["Location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "code" not in query
        assert not Grant.objects.exists()

    def test_a_user_must_be_signed_in_to_consent(self, client, teacher_app_with_redirect):
        app, _secret = teacher_app_with_redirect
        _verifier, challenge = pkce_pair()
        response = self.authorize(client, app, code_challenge=challenge, code_challenge_method="S256")
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")

    def test_an_app_cannot_ask_a_user_for_a_scope_the_school_did_not_grant(self, signed_in, teacher_app_with_redirect):
        app, _secret = teacher_app_with_redirect
        _verifier, challenge = pkce_pair()
        response = self.authorize(
            signed_in, app, scope="students:write", state="xyz", code_challenge=challenge, code_challenge_method="S256"
        )
        assert response.status_code == 302
        assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_scope"]

    def test_a_client_credentials_app_cannot_use_the_authorization_endpoint(self, signed_in, reader):
        app, _secret = reader
        _verifier, challenge = pkce_pair()
        response = self.authorize(signed_in, app, code_challenge=challenge, code_challenge_method="S256")
        assert response.status_code == 400
        assert "Location" not in response
        assert not Grant.objects.exists()


def revoke(app: Application, secret: str, token: str, **more: str) -> Any:
    data = {"token": token, "client_id": app.client_id, "client_secret": secret, **more}
    return APIClient().post("/api/oauth/revoke_token", data)


def introspect(app: Application, secret: str, token: str) -> Any:
    data = {"token": token, "client_id": app.client_id, "client_secret": secret}
    return APIClient().post("/api/oauth/introspect", data)


class TestRevocationAndIntrospection:
    def test_revoking_an_access_token_ends_it(self, reader):
        token = obtain_token(client_credentials(*reader))["access_token"]
        assert revoke(*reader, token).status_code == 200
        assert api_status(token) == 401

    def test_revoking_a_refresh_token_ends_the_sign_in(self, parent_app, parent):
        token = obtain_token(password_grant(*parent_app, parent.username))
        assert revoke(*parent_app, token["refresh_token"], token_type_hint="refresh_token").status_code == 200
        assert api_status(token["access_token"]) == 401
        assert_oauth_error(refresh(*parent_app, token["refresh_token"]), 400, "invalid_grant")

    def test_one_client_cannot_revoke_another_clients_token(self, reader):
        other = make_partner("students:read", name="Other partner")
        token = obtain_token(client_credentials(*reader))["access_token"]
        assert revoke(*other, token).status_code == 200  # RFC 7009: no hint whether the token exists
        assert api_status(token) == 200

    def test_revoking_needs_the_clients_secret(self, reader):
        app, _secret = reader
        token = obtain_token(client_credentials(*reader))["access_token"]
        assert_oauth_error(revoke(app, "wrong", token), 401, "invalid_client")
        assert api_status(token) == 200

    def test_introspection_reports_a_live_token_as_active(self, reader):
        app, _secret = reader
        token = obtain_token(client_credentials(*reader))["access_token"]
        response = introspect(*reader, token)
        body = response.json()
        assert response.status_code == 200, body
        assert body["active"] is True
        assert body["client_id"] == app.client_id
        assert body["scope"].split() == ["students:read", "attendance:read"]

    def test_introspection_reports_revoked_unknown_and_expired_tokens_as_inactive(self, reader):
        with time_machine.travel(START, tick=False) as clock:
            revoked = obtain_token(client_credentials(*reader))["access_token"]
            revoke(*reader, revoked)
            assert introspect(*reader, revoked).json() == {"active": False}
            assert introspect(*reader, "no-such-token").json() == {"active": False}
            expired = obtain_token(client_credentials(*reader))["access_token"]
            clock.move_to(START + timedelta(hours=2))
            assert introspect(*reader, expired).json() == {"active": False}

    def test_introspection_needs_client_credentials(self, reader):
        app, _secret = reader
        token = obtain_token(client_credentials(*reader))["access_token"]
        body = assert_oauth_error(introspect(app, "wrong", token), 401, "invalid_client")
        assert "active" not in body
        body = assert_oauth_error(APIClient().post("/api/oauth/introspect", {"token": token}), 401, "invalid_client")
        assert "active" not in body

    def test_introspection_is_post_only(self, reader):
        app, secret = reader
        token = obtain_token(client_credentials(*reader))["access_token"]
        response = APIClient().get(
            "/api/oauth/introspect", {"token": token, "client_id": app.client_id, "client_secret": secret}
        )
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"

    def test_one_client_cannot_introspect_another_clients_token(self, reader, parent_app, parent):
        other = make_partner("students:read", name="Other partner")
        partner_token = obtain_token(client_credentials(*reader))["access_token"]
        user_token = obtain_token(password_grant(*parent_app, parent.username))["access_token"]
        assert introspect(*other, partner_token).json() == {"active": False}
        assert introspect(*other, user_token).json() == {"active": False}
        assert introspect(*parent_app, user_token).json()["username"] == parent.username


class TestStorage:
    def test_client_secrets_are_stored_with_the_fast_hasher(self, reader):
        app, secret = reader
        stored = Application.objects.values_list("client_secret", flat=True).get(pk=app.pk)
        assert stored.startswith("client_secret_sha256$")
        assert secret not in stored

    def test_checking_a_client_secret_costs_one_hash_round(self, reader):
        app, _secret = reader
        hasher = identify_hasher(app.client_secret)
        assert isinstance(hasher, ClientSecretHasher)
        assert hasher.iterations == 1
        assert hasher.decode(app.client_secret)["iterations"] == 1

    def test_user_passwords_keep_a_slow_hasher(self):
        import harmony.settings as configured  # the tests' fixture swaps in fast hashers; read the real list

        assert configured.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
        assert configured.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] == ClientSecretHasher.algorithm

    def test_tokens_are_stored_only_as_checksums(self, parent_app, parent):
        token = obtain_token(password_grant(*parent_app, parent.username))
        access = AccessToken.objects.get()
        refresh_row = RefreshToken.objects.get()
        assert access.token == "" and refresh_row.token == ""
        assert access.token_checksum == hashlib.sha256(token["access_token"].encode()).hexdigest()
        assert refresh_row.token_checksum == hashlib.sha256(token["refresh_token"].encode()).hexdigest()

        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for model in (AccessToken, RefreshToken):
                cursor.execute(f"SELECT * FROM {quote(model._meta.db_table)}")
                stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
                assert token["access_token"] not in stored
                assert token["refresh_token"] not in stored


class TestCreatePartnerApp:
    def run(self, *args: str) -> dict[str, Any]:
        out = io.StringIO()
        call_command("create_partner_app", *args, stdout=out)
        lines = out.getvalue().strip().splitlines()
        assert len(lines) == 1
        return json.loads(lines[0])

    def test_it_prints_one_json_object_with_working_credentials(self):
        credentials = self.run("--name", "Timetable system", "--scopes", "students:read attendance:read")
        assert credentials["name"] == "Timetable system"
        assert credentials["grant"] == "client-credentials"
        assert credentials["scopes"] == ["students:read", "attendance:read"]
        app = Application.objects.get(client_id=credentials["client_id"])
        assert app.allowed_scopes == "students:read attendance:read"
        token = obtain_token(
            {
                "grant_type": "client_credentials",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
            }
        )
        assert token["scope"] == "students:read attendance:read"

    def test_it_registers_the_password_and_authorization_code_grants(self):
        password = self.run("--name", "Parent app", "--scopes", "students:read", "--grant", "password")
        code = self.run(
            "--name",
            "Homework app",
            "--scopes",
            "students:read",
            "--grant",
            "authorization-code",
            "--redirect-uri",
            REDIRECT_URI,
        )
        assert Application.objects.get(client_id=password["client_id"]).authorization_grant_type == "password"
        app = Application.objects.get(client_id=code["client_id"])
        assert app.authorization_grant_type == "authorization-code"
        assert app.redirect_uris == REDIRECT_URI

    @pytest.mark.parametrize(
        "args",
        [
            ["--scopes", "students:read students:delete"],
            ["--scopes", "introspection"],
            ["--scopes", ""],
            ["--scopes", "students:read", "--grant", "implicit"],
            ["--scopes", "students:read", "--grant", "authorization-code"],
        ],
        ids=["unknown-scope", "unlisted-scope", "no-scope", "unknown-grant", "code-without-redirect-uri"],
    )
    def test_it_refuses_bad_registrations_and_creates_nothing(self, args):
        with pytest.raises(CommandError):
            call_command("create_partner_app", "--name", "Bad app", *args, stdout=io.StringIO())
        assert not Application.objects.exists()
