"""Pages every part of the site shares: the landing page, signing in and out, and the error pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from harmony.api.errors import error_body
from harmony.ratelimits import record_failed_sign_in, sign_in_wait


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated:
        return redirect("staff-dashboard" if user.is_school_staff else "family-home")
    return render(request, "harmony/home.html")


class SignInView(auth_views.LoginView):
    """Sign in to the staff portal or the family pages; failed attempts are limited per IP and username."""

    portal = "staff"
    redirect_authenticated_user = True
    template_name = "registration/login.html"

    def get_default_redirect_url(self) -> str:
        return reverse("staff-dashboard" if self.portal == "staff" else "family-home")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(portal=self.portal, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if wait := sign_in_wait(request, username):
            form = AuthenticationForm(request, data=None)
            minutes = max(1, round(wait / 60))
            form.add_error(None, f"Too many failed sign-in attempts. Try again in about {minutes} minutes.")
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        record_failed_sign_in(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponseRedirect:
    logout(request)
    return redirect("home")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(404, request=request), status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(500, request=request), status=500)
    return render(request, "500.html", status=500)
