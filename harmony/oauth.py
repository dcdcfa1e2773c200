"""OAuth2 with django-oauth-toolkit: per-application scopes and the token endpoints under /api/oauth/.

The token endpoints keep RFC 6749's error bodies (`error` is the OAuth error code, which every OAuth client
reads) and add the rest of Harmony's error envelope around them, so both kinds of client understand them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views
from oauth2_provider.models import get_access_token_model
from oauth2_provider.scopes import BaseScopes
from oauthlib.common import Request as OAuthLibRequest

from harmony.api.errors import error_body
from harmony.ratelimits import record_failed_sign_in, sign_in_wait


class ApplicationScopes(BaseScopes):
    """An application may obtain only the scopes the school granted it; asking for none gives all of those."""

    def get_all_scopes(self) -> dict[str, str]:
        return settings.SCOPES

    def get_available_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any):
        if application is None:
            return list(settings.SCOPES)
        return [scope for scope in settings.SCOPES if scope in application.scope_set]

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any):
        return self.get_available_scopes(application, request)


# oauthlib leaves error_description out for several errors; RFC 6749 clients show it to people when present.
ERROR_DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter or is otherwise malformed.",
    "invalid_client": "Client authentication failed: unknown client or wrong secret.",
    "invalid_grant": "The grant is invalid, expired, revoked or was issued to another client.",
    "unauthorized_client": "This application is not registered for this grant type.",
    "unsupported_grant_type": "This grant type is not supported.",
    "invalid_scope": "The application asked for a scope the school has not granted it.",
}


def _enveloped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Add the error envelope to an OAuth error answer, keeping its RFC fields."""
    if response.status_code < 400:
        return response
    try:
        oauth_error = json.loads(response.content or b"{}")
    except ValueError:
        oauth_error = {}
    if "success" in oauth_error:
        return response
    code = oauth_error.get("error", "invalid_request")
    body = error_body(response.status_code, request=request, code=code, title=code)
    oauth_error.setdefault("error", code)
    oauth_error["error_description"] = oauth_error.get("error_description") or ERROR_DESCRIPTIONS.get(code, code)
    body["details"] = [{"field": None, "message": oauth_error["error_description"], "code": code}]
    body.update(oauth_error)
    enveloped = JsonResponse(body, status=response.status_code)
    for header in ("WWW-Authenticate", "Cache-Control", "Pragma"):
        if header in response:
            enveloped[header] = response[header]
    return enveloped


def rate_limited_response(request: HttpRequest, wait: int) -> JsonResponse:
    body = error_body(
        429,
        request=request,
        details=[
            {
                "field": None,
                "message": f"Too many failed attempts. Try again in {wait} seconds.",
                "code": "rate_limited",
            }
        ],
    )
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response


def _client_id(request: HttpRequest) -> str:
    return request.POST.get("client_id", "") or request.META.get("HTTP_AUTHORIZATION", "")[:64]


class EnvelopedMethodNotAllowed:
    """Refuse a wrong HTTP method in the envelope, as every other error of the API is."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = JsonResponse(error_body(405, request=request), status=405)
        response["Allow"] = ", ".join(self._allowed_methods())  # type: ignore[attr-defined]
        return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(EnvelopedMethodNotAllowed, oauth_views.TokenView):
    """Issue tokens; failed attempts are limited per IP and per username (or client)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "") or _client_id(request)
        if wait := sign_in_wait(request, username):
            return rate_limited_response(request, wait)
        response = super().post(request, *args, **kwargs)
        if response.status_code in (400, 401):
            record_failed_sign_in(request, username)
        return _enveloped(request, response)


@method_decorator(csrf_exempt, name="dispatch")
class RevokeTokenView(EnvelopedMethodNotAllowed, oauth_views.RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _enveloped(request, super().post(request, *args, **kwargs))


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(EnvelopedMethodNotAllowed, oauth_views.IntrospectTokenView):
    """Report on a token to the client it was issued to, and to no other.

    django-oauth-toolkit answers any authenticated client about any token, so one partner could learn which
    user and scopes another partner's token carries. A token of another client is reported inactive, exactly
    as an unknown one is (RFC 7662 lets the server decide what each caller may learn).
    """

    http_method_names = ["post", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _enveloped(request, super().dispatch(request, *args, **kwargs))

    def authenticate_client(self, request: HttpRequest) -> bool:
        # As the base class does, but keep the authenticated application to compare with the token's.
        core = self.get_oauthlib_core()
        oauth_request = OAuthLibRequest(*core._extract_params(request))
        authenticated = bool(core.server.request_validator.authenticate_client(oauth_request))
        request.oauth_client = oauth_request.client if authenticated else None  # type: ignore[attr-defined]
        return authenticated

    def unauthenticated_response(self, request: HttpRequest, oauthlib_request: Any = None) -> HttpResponse:
        return JsonResponse({"error": "invalid_client"}, status=401)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.POST.get("token")
        client = getattr(request, "oauth_client", None)
        if token is not None and not _issued_to(client, token):
            return JsonResponse({"active": False})
        return self.get_token_response(token)


def _issued_to(client: Any, token: str) -> bool:
    if client is None:
        return False
    checksum = hashlib.sha256(token.encode()).hexdigest()
    return get_access_token_model().objects.filter(token_checksum=checksum, application=client).exists()


class AuthorizationView(oauth_views.AuthorizationView):
    """The consent screen of the authorization-code flow (with PKCE), for apps acting for a signed-in user."""

    template_name = "oauth2_provider/authorize.html"
