"""The root URLconf: the API under /api/, the staff portal, the family pages, the admin and health checks."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from harmony import health, oauth, pages

oauth_patterns = [
    re_path(r"^token/?$", oauth.TokenView.as_view(), name="token"),
    re_path(r"^revoke_token/?$", oauth.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^introspect/?$", oauth.IntrospectTokenView.as_view(), name="introspect"),
    re_path(r"^authorize/?$", oauth.AuthorizationView.as_view(), name="authorize"),
]

api_patterns = [
    path("oauth/", include((oauth_patterns, "oauth2_provider"))),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("", include("students.api")),
    path("", include("attendance.api")),
    path("", include("notifications.api")),
    path("", include("privacy.api")),
    path("", include("harmony.sync.urls")),
    re_path(r"^.*$", pages.not_found),  # an unknown API path answers in the envelope, not with a page
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("admin/login/", pages.admin_sign_in),  # Django's admin sign-in, under the sign-in rate limits
    path("admin/", admin.site.urls),
    path("staff/login/", pages.SignInView.as_view(portal="staff"), name="staff-login"),
    path("family/login/", pages.SignInView.as_view(portal="family"), name="family-login"),
    path("signout/", pages.sign_out, name="signout"),
    path("", include("students.urls")),
    path("", include("attendance.urls")),
    path("", include("notifications.urls")),
    path("", include("privacy.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", pages.home, name="home"),
]

handler404 = "harmony.pages.not_found"
handler500 = "harmony.pages.server_error"
