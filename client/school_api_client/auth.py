"""OAuth2 tokens: obtaining them from `/api/oauth/token`, keeping them, and renewing them before they expire."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from school_api_client.exceptions import SchoolAPIError

logger = logging.getLogger("school_api_client")

CLIENT_CREDENTIALS = "client_credentials"
PASSWORD = "password"


class TokenManager:
    """Keep OAuth2 tokens in memory, one per client id, and tell when one is (nearly) expired.

    Give the same manager to several `SchoolAPIClient` instances of one partner application and they share
    one token instead of each fetching its own. A stored token is the token endpoint's answer plus
    ``expires_at`` (ISO 8601, UTC) and ``grant_type`` (how it was obtained). The manager is thread-safe.
    """

    def __init__(self, leeway: float = 60.0) -> None:
        """`leeway`: seconds before its expiry from which a token counts as expired, so it is renewed in time."""
        self.leeway = leeway
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get_token(self, client_id: str) -> dict[str, Any] | None:
        """Return a copy of the token stored for `client_id`, or None."""
        with self._lock:
            token = self._tokens.get(client_id)
            return copy.deepcopy(token) if token is not None else None

    def store_token(self, client_id: str, token_data: Mapping[str, Any]) -> dict[str, Any]:
        """Store `token_data` for `client_id`, adding ``expires_at`` from ``expires_in`` when it has none."""
        token = dict(token_data)
        if not token.get("expires_at") and isinstance(token.get("expires_in"), (int, float)):
            token["expires_at"] = (_now() + timedelta(seconds=token["expires_in"])).isoformat()
        with self._lock:
            self._tokens[client_id] = token
        return copy.deepcopy(token)

    def remove_token(self, client_id: str) -> None:
        """Forget the token of `client_id` (nothing happens when there is none)."""
        with self._lock:
            self._tokens.pop(client_id, None)

    def is_expired(self, client_id: str) -> bool:
        """Say whether `client_id` needs a new token: it has none, or its token expires within the leeway.

        A token without ``expires_at`` never counts as expired; the server's 401 tells when it is.
        """
        token = self.get_token(client_id)
        if not token or not token.get("access_token"):
            return True
        if not token.get("expires_at"):
            return False
        expiry = datetime.fromisoformat(token["expires_at"])
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=timezone.utc)
        return _now() + timedelta(seconds=self.leeway) >= expiry


class OAuth2Handler:
    """Obtain, renew and revoke the OAuth2 tokens of one partner application (`SchoolAPIClient.oauth`).

    A client that never calls `authenticate` acts as the application itself, with the client-credentials
    grant. After `authenticate` it acts for the user who signed in (password grant) and renews the token with
    its refresh token; when that is no longer possible it raises `SchoolAPIError` with the code
    ``"reauthentication_required"`` and the user must sign in again.
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        timeout: float | tuple[float, float],
        headers: Mapping[str, str],
        scope: str | None = None,
        token_manager: TokenManager | None = None,
    ) -> None:
        self.token_url = f"{base_url}/api/oauth/token"
        self.revoke_url = f"{base_url}/api/oauth/revoke_token"
        self.client_id = client_id
        self.scope = scope
        self.token_manager = token_manager or TokenManager()
        self._client_secret = client_secret
        self._session = session
        self._timeout = timeout
        self._headers = dict(headers)
        self._lock = threading.RLock()
        self._grant_type = CLIENT_CREDENTIALS  # how this handler obtains a token when it has none

    def __repr__(self) -> str:
        return f"<OAuth2Handler client_id={self.client_id!r}>"  # never the secret or a token

    @property
    def token(self) -> dict[str, Any] | None:
        """Return a copy of the current token (the token endpoint's answer plus ``expires_at``), or None."""
        return self.token_manager.get_token(self.client_id)

    def authenticate(self, username: str, password: str, scope: str | None = None) -> dict[str, Any]:
        """Sign `username` in with the password grant and return the token (``access_token``, ``refresh_token``,
        ``expires_in``, ``scope``...).

        The application must be registered for the password grant. The password is not kept: the refresh
        token renews the session. `scope` narrows the token to fewer scopes than the application has.
        """
        data = {"grant_type": PASSWORD, "username": username, "password": password}
        token = self._obtain(data, grant_type=PASSWORD, scope=scope or self.scope)
        self._grant_type = PASSWORD
        return token

    def fetch_client_credentials_token(self, scope: str | None = None) -> dict[str, Any]:
        """Obtain a token for the application itself (client-credentials grant) and return it."""
        return self._obtain(
            {"grant_type": CLIENT_CREDENTIALS}, grant_type=CLIENT_CREDENTIALS, scope=scope or self.scope
        )

    def refresh_access_token(self) -> dict[str, Any]:
        """Renew the token now and return the new one.

        With a refresh token, use it (the server rotates it: the new one replaces it). Without one, a
        client-credentials session fetches a new token; a signed-in session whose refresh token is gone or
        refused raises `SchoolAPIError` (code ``"reauthentication_required"``): call `authenticate` again.
        """
        with self._lock:
            current = self.token
            grant_type = (current or {}).get("grant_type", self._grant_type)
            refresh_token = (current or {}).get("refresh_token")
            if refresh_token:
                try:
                    return self._obtain(
                        {"grant_type": "refresh_token", "refresh_token": refresh_token}, grant_type=grant_type
                    )
                except SchoolAPIError as error:
                    if error.status_code is None:
                        raise  # no answer: the refresh token may still be good, keep it
                    self.token_manager.remove_token(self.client_id)
                    if grant_type == PASSWORD:
                        raise _reauthentication_required(error) from error
            elif grant_type == PASSWORD:
                raise _reauthentication_required(None)
            return self.fetch_client_credentials_token()

    def get_access_token(self) -> str:
        """Return an access token that is valid for a while yet, obtaining or renewing one when needed."""
        with self._lock:
            if not self.token_manager.is_expired(self.client_id):
                token = self.token
                if token is not None:
                    return str(token["access_token"])
            if self.token is None and self._grant_type == CLIENT_CREDENTIALS:
                return str(self.fetch_client_credentials_token()["access_token"])
            return str(self.refresh_access_token()["access_token"])

    def renew_rejected(self, rejected_access_token: str) -> str:
        """Return a new access token after the server refused `rejected_access_token` with a 401.

        When another thread already renewed it, its token is returned without asking the server again.
        """
        with self._lock:
            current = self.token
            if current and current.get("access_token") and current["access_token"] != rejected_access_token:
                return str(current["access_token"])
            return str(self.refresh_access_token()["access_token"])

    def revoke_token(self) -> None:
        """Revoke the current tokens on the server (refresh token, then access token) and forget them."""
        with self._lock:
            token = self.token
            self.token_manager.remove_token(self.client_id)
        if not token:
            return
        for hint in ("refresh_token", "access_token"):
            if token.get(hint):
                data = {"token": token[hint], "token_type_hint": hint}
                self._post(self.revoke_url, data)

    def _obtain(self, data: dict[str, str], *, grant_type: str, scope: str | None = None) -> dict[str, Any]:
        if scope:
            data["scope"] = scope
        with self._lock:
            asked_at = _now()
            response = self._post(self.token_url, data)
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not body.get("access_token"):
                raise SchoolAPIError(
                    "The token endpoint answered without an access token.",
                    status_code=response.status_code,
                    body=body,
                    response=response,
                )
            token: dict[str, Any] = dict(body)
            token["grant_type"] = grant_type
            if isinstance(token.get("expires_in"), (int, float)):
                # Counted from before the request, so the token is never thought to live longer than it does.
                token["expires_at"] = (asked_at + timedelta(seconds=token["expires_in"])).isoformat()
            logger.debug("Obtained an access token with the %s grant", data["grant_type"])
            return self.token_manager.store_token(self.client_id, token)

    def _post(self, url: str, data: dict[str, str]) -> requests.Response:
        # Token requests are never retried: a refresh token is spent on first use, and replaying it would
        # revoke the whole session.
        form = {**data, "client_id": self.client_id, "client_secret": self._client_secret}
        try:
            response = self._session.post(url, data=form, headers=self._headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise SchoolAPIError(f"Network error while calling {url}: {exc}") from exc
        if response.status_code >= 400:
            raise SchoolAPIError.from_response(response)
        return response


def _reauthentication_required(cause: SchoolAPIError | None) -> SchoolAPIError:
    reason = f" ({cause.message})" if cause else ""
    return SchoolAPIError(
        f"The signed-in session has ended and cannot be renewed{reason}; call authenticate() again.",
        status_code=401,
        code="reauthentication_required",
        error="Reauthentication required",
        request_id=cause.request_id if cause else None,
        body=cause.body if cause else None,
        response=cause.response if cause else None,
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)
