"""Tokens: client credentials by default, the password grant through authenticate(), renewal and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from django.utils import timezone
from oauth2_provider.models import AccessToken

from harmony.roles import Role
from school_api_client import SchoolAPIClient, SchoolAPIError, TokenManager
from tests.factories import PASSWORD, make_class_group, make_student, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ALMOST_AN_HOUR = 3600 - 30  # inside the client's 60-second leeway, while the server still accepts the token


def revoke_on_server(live_server, client: SchoolAPIClient, secret: str, hint: str = "access_token") -> None:
    """Revoke the client's current token through the server's own revocation endpoint."""
    response = requests.post(
        f"{live_server.url}/api/oauth/revoke_token",
        data={
            "token": client.oauth.token[hint],
            "token_type_hint": hint,
            "client_id": client.oauth.client_id,
            "client_secret": secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def password_client(make_client, **options):
    return make_client("students:read students:write", grant="password", **options)


class TestClientCredentials:
    def test_it_obtains_a_token_by_itself_on_the_first_call_and_keeps_it(self, make_client, wire):
        make_student(first_name="Amira")
        client = make_client("students:read")

        assert client.oauth.token is None
        assert client.get_students()["count"] == 1
        client.get_students()
        client.get_student(client.get_students()["data"][0]["id"])

        assert wire.grants() == ["client_credentials"]
        token = client.oauth.token
        assert token["scope"] == "students:read"
        assert token["expires_in"] == 3600
        assert datetime.fromisoformat(token["expires_at"]) > datetime.now(UTC)
        bearer = f"Bearer {token['access_token']}"
        assert all(request.headers["Authorization"] == bearer for request in wire.api_requests)

    def test_it_fetches_a_new_token_shortly_before_the_old_one_expires(self, make_client, wire):
        with time_machine.travel(datetime.now(UTC), tick=False) as clock:
            client = make_client("students:read")
            client.get_students()
            first = client.oauth.token["access_token"]

            clock.shift(ALMOST_AN_HOUR)
            client.get_students()

        assert wire.grants() == ["client_credentials", "client_credentials"]
        assert client.oauth.token["access_token"] != first
        assert [answer.status_code for answer in wire.api_answers] == [200, 200]

    def test_it_renews_the_token_and_retries_once_when_the_server_refuses_it(self, live_server, make_client, wire):
        client = make_client("students:read")
        client.get_students()
        revoke_on_server(live_server, client, client.partner_secret)

        assert client.get_students()["success"] is True
        assert [answer.status_code for answer in wire.api_answers] == [200, 401, 200]
        assert wire.grants() == ["client_credentials", "client_credentials"]

    def test_the_guides_explicit_refresh_gets_a_fresh_token(self, make_client, wire):
        client = make_client("students:read")
        client.get_students()
        first = client.oauth.token["access_token"]

        token = client.oauth.refresh_access_token()

        assert token["access_token"] != first
        client.get_students()
        assert wire.api_requests[-1].headers["Authorization"] == f"Bearer {token['access_token']}"

    def test_a_narrower_scope_can_be_asked_for(self, make_client):
        client = make_client("students:read students:write", scope="students:read")
        client.get_students()
        assert client.oauth.token["scope"] == "students:read"
        with pytest.raises(SchoolAPIError) as raised:
            client.create_student({"rollNumber": "N1", "firstName": "Nadia", "lastName": "Noor"})
        assert (raised.value.status_code, raised.value.code) == (403, "insufficient_scope")

    def test_wrong_credentials_raise_the_oauth_error(self, live_server, wire):
        client = SchoolAPIClient(live_server.url, "unknown", "wrong", session=wire)
        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()
        assert raised.value.status_code == 401
        assert raised.value.code == "invalid_client"
        assert raised.value.request_id
        assert wire.api_requests == []

    def test_clients_sharing_a_token_manager_share_one_token(self, live_server, make_client, wire):
        manager = TokenManager()
        first = make_client("students:read", token_manager=manager)
        first.get_students()
        second = SchoolAPIClient(
            live_server.url, first.oauth.client_id, "not needed", token_manager=manager, session=wire
        )
        second.get_students()
        assert wire.grants() == ["client_credentials"]
        assert wire.api_requests[0].headers["Authorization"] == wire.api_requests[1].headers["Authorization"]

    def test_revoking_ends_the_token_on_the_server(self, live_server, make_client, wire):
        client = make_client("students:read")
        client.get_students()
        old = client.oauth.token["access_token"]

        client.oauth.revoke_token()

        assert client.oauth.token is None
        refused = requests.get(f"{live_server.url}/api/students", headers={"Authorization": f"Bearer {old}"})
        assert refused.status_code == 401
        client.get_students()  # a new token is fetched
        assert wire.grants() == ["client_credentials", "client_credentials"]


class TestPasswordGrant:
    def test_authenticate_signs_the_user_in_and_later_calls_act_for_them(self, make_client, wire):
        teacher = make_user("teacher@school.test", Role.TEACHER, first_name="Tara")
        mine = make_student(make_class_group("7A", tutor=teacher), first_name="Amira")
        make_student(make_class_group("7B"), first_name="Bilal")
        client = password_client(make_client)

        auth = client.authenticate("teacher@school.test", PASSWORD)

        assert set(auth) >= {"access_token", "refresh_token", "expires_in", "token_type", "scope"}
        assert auth["token_type"] == "Bearer"
        assert [s["id"] for s in client.get_students()["data"]] == [mine.pk]  # the teacher's view
        assert wire.grants() == ["password"]

    def test_a_wrong_password_raises_invalid_grant(self, make_client):
        make_user("office@school.test")
        client = password_client(make_client)
        with pytest.raises(SchoolAPIError) as raised:
            client.authenticate("office@school.test", "not the password")
        assert raised.value.status_code == 400
        assert raised.value.code == "invalid_grant"
        assert client.oauth.token is None

    def test_too_many_wrong_passwords_raise_429_at_once(self, make_client, wire):
        make_user("office@school.test")
        client = password_client(make_client)  # its sleep fails the test if it is asked to wait
        for _ in range(5):
            with pytest.raises(SchoolAPIError):
                client.authenticate("office@school.test", "not the password")

        with pytest.raises(SchoolAPIError) as raised:
            client.authenticate("office@school.test", PASSWORD)
        assert (raised.value.status_code, raised.value.code) == (429, "rate_limited")
        assert 0 < raised.value.retry_after <= 15 * 60
        assert len(wire.token_requests) == 6  # a token request is never repeated by the client

    def test_it_uses_the_refresh_token_shortly_before_expiry_and_keeps_the_rotated_one(self, make_client, wire):
        make_user("office@school.test")
        with time_machine.travel(datetime.now(UTC), tick=False) as clock:
            client = password_client(make_client)
            first = client.authenticate("office@school.test", PASSWORD)

            clock.shift(ALMOST_AN_HOUR)
            client.get_students()
            second = client.oauth.token

            clock.shift(ALMOST_AN_HOUR)
            client.get_students()

        assert wire.grants() == ["password", "refresh_token", "refresh_token"]
        assert second["refresh_token"] != first["refresh_token"]
        assert second["grant_type"] == "password"
        assert [answer.status_code for answer in wire.api_answers] == [200, 200]

    def test_it_refreshes_and_retries_once_when_the_server_finds_the_access_token_expired(self, make_client, wire):
        make_user("office@school.test")
        client = password_client(make_client)
        client.authenticate("office@school.test", PASSWORD)
        client.get_students()
        # The server's clock is ahead of the client's: for it, the token has already expired.
        AccessToken.objects.filter(application=client.partner).update(expires=timezone.now() - timedelta(seconds=1))

        assert client.get_students()["success"] is True
        assert [answer.status_code for answer in wire.api_answers] == [200, 401, 200]
        assert wire.grants() == ["password", "refresh_token"]

    @pytest.mark.parametrize("revoked", ["access_token", "refresh_token"])
    def test_a_session_revoked_on_the_server_asks_to_sign_in_again(self, live_server, make_client, wire, revoked):
        make_user("office@school.test")
        client = password_client(make_client)
        client.authenticate("office@school.test", PASSWORD)
        revoke_on_server(live_server, client, client.partner_secret, hint=revoked)  # either revokes both

        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()
        assert raised.value.status_code == 401
        assert raised.value.code == "reauthentication_required"
        assert "authenticate()" in str(raised.value)
        with pytest.raises(SchoolAPIError) as again:
            client.get_students()
        assert again.value.code == "reauthentication_required"
        assert wire.grants() == ["password", "refresh_token"]  # never a client-credentials token instead

        client.authenticate("office@school.test", PASSWORD)
        assert client.get_students()["success"] is True

    def test_a_second_refusal_is_raised_rather_than_retried(self, make_client, wire):
        user = make_user("office@school.test")
        client = password_client(make_client)
        client.authenticate("office@school.test", PASSWORD)
        user.is_active = False  # the server now refuses every token of this account
        user.save()

        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()
        assert raised.value.status_code == 401
        assert [answer.status_code for answer in wire.api_answers] == [401, 401]
