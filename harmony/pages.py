"""Pages every part of the site shares: the landing page, signing in and out, and the error pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
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


def too_many_attempts(wait: int) -> str:
    minutes = max(1, round(wait / 60))
    return f"Too many failed sign-in attempts. Try again in about {minutes} minute{'s' if minutes != 1 else ''}."


class SignInView(auth_views.LoginView):
    """Sign in to the staff portal or the family pages; failed attempts are limited per IP and username."""

    portal = "staff"
    redirect_authenticated_user = True
    template_name = "registration/login.html"

    def get_default_redirect_url(self) -> str:
        # Land where the account may go: a member of staff who used the family page (or a guardian who used
        # the staff one) would otherwise meet a 403 right after signing in.
        user = self.request.user
        is_guardian = hasattr(user, "guardian")
        if self.portal == "family":
            to_family = is_guardian or not user.is_school_staff
        else:
            to_family = is_guardian and not user.is_school_staff
        return reverse("family-home" if to_family else "staff-dashboard")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(portal=self.portal, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if wait := sign_in_wait(request, username):
            # An unbound form: binding it would check the password, which is exactly what is refused here.
            form = AuthenticationForm(request, initial={"username": username})
            context = self.get_context_data(form=form, refusal=too_many_attempts(wait))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        record_failed_sign_in(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign in to the Django admin, under the same failed-attempt limits as the portals' sign-in pages."""
    if request.method != "POST":
        return admin.site.login(request)
    username = request.POST.get("username", "")
    if wait := sign_in_wait(request, username):
        context = {
            **admin.site.each_context(request),
            "title": "Log in",
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
            "next": request.POST.get("next") or reverse("admin:index"),
            "form": AdminAuthenticationForm(request, initial={"username": username}),
            "refusal": too_many_attempts(wait),
        }
        response = render(request, "admin/login.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    response = admin.site.login(request)
    if response.status_code == 200:  # the form came back with an error, so this was no sign-in
        record_failed_sign_in(request, username)
    return response


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
