"""OAuth2 with django-oauth-toolkit: per-application scopes and the token endpoints under /api/oauth/.

The token endpoints keep RFC 6749's error bodies (`error` is the OAuth error code, which every OAuth client
reads) and add the rest of Harmony's error envelope around them, so both kinds of client understand them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views
from oauth2_provider.scopes import BaseScopes

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


def _enveloped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Add the error envelope to an OAuth error answer, keeping its RFC fields."""
    if response.status_code < 400:
        return response
    try:
        oauth_error = json.loads(response.content or b"{}")
    except ValueError:
        oauth_error = {}
    code = oauth_error.get("error", "invalid_request")
    body = error_body(response.status_code, request=request, code=code, title=code)
    description = oauth_error.get("error_description", "")
    body["details"] = [{"field": None, "message": description or code, "code": code}]
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


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(oauth_views.TokenView):
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
class RevokeTokenView(oauth_views.RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _enveloped(request, super().post(request, *args, **kwargs))


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(oauth_views.IntrospectTokenView):
    http_method_names = ["post", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _enveloped(request, super().dispatch(request, *args, **kwargs))


class AuthorizationView(oauth_views.AuthorizationView):
    """The consent screen of the authorization-code flow (with PKCE), for apps acting for a signed-in user."""

    template_name = "oauth2_provider/authorize.html"
