"""Pages: composing, previewing and following messages in the staff portal; inboxes and e-mail preferences.

Staff and guardians share the inbox pages (one set of templates); `Portal` names the base template and the
URLs of each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from harmony.decorators import staff_required
from harmony.roles import Role
from notifications import selectors, services
from notifications.forms import AbsenceAlertSettingsForm, ComposeForm, PreferenceForm
from notifications.models import AbsenceAlertSettings
from students.views import family_required


@dataclass(frozen=True)
class Portal:
    base: str
    inbox: str
    notification: str
    read_all: str
    preferences: str


STAFF = Portal(
    base="staff_base.html",
    inbox="staff-inbox",
    notification="staff-inbox-notification",
    read_all="staff-inbox-read-all",
    preferences="staff-notification-preferences",
)
FAMILY = Portal(
    base="family_base.html",
    inbox="family-inbox",
    notification="family-notification",
    read_all="family-inbox-read-all",
    preferences="family-notification-preferences",
)


def inbox_redirect(request: HttpRequest) -> HttpResponse:
    """Send whoever follows an e-mail's link to their own inbox, after signing in if need be."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("family-login"))
    if user.is_school_staff:
        return redirect(STAFF.inbox)
    if hasattr(user, "guardian"):
        return redirect(FAMILY.inbox)
    raise PermissionDenied("This account has no inbox.")


# Inboxes, for staff and for families.


def _inbox(request: HttpRequest, portal: Portal) -> HttpResponse:
    page = Paginator(selectors.inbox(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page, "portal": portal})


def _notification(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    notification = get_object_or_404(selectors.inbox(request.user), pk=pk)  # someone else's: 404
    services.notification_mark_read(user=request.user, notification=notification)
    return render(request, "notifications/notification.html", {"notification": notification, "portal": portal})


def _read_all(request: HttpRequest, portal: Portal) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect(portal.inbox)


def _preferences(request: HttpRequest, portal: Portal) -> HttpResponse:
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            services.preference_update(user=request.user, email_types=form.cleaned_data["email_types"])
            messages.success(request, "Your e-mail preferences are saved.")
            return redirect(portal.preferences)
    else:
        form = PreferenceForm(initial={"email_types": selectors.email_types_for(request.user)})
    return render(request, "notifications/preferences.html", {"form": form, "portal": portal})


@family_required
def family_inbox(request: HttpRequest) -> HttpResponse:
    return _inbox(request, FAMILY)


@family_required
def family_notification(request: HttpRequest, pk: int) -> HttpResponse:
    return _notification(request, FAMILY, pk)


@require_POST
@family_required
def family_read_all(request: HttpRequest) -> HttpResponse:
    return _read_all(request, FAMILY)


@family_required
def family_preferences(request: HttpRequest) -> HttpResponse:
    return _preferences(request, FAMILY)


@staff_required()
def staff_inbox(request: HttpRequest) -> HttpResponse:
    return _inbox(request, STAFF)


@staff_required()
def staff_inbox_notification(request: HttpRequest, pk: int) -> HttpResponse:
    return _notification(request, STAFF, pk)


@require_POST
@staff_required()
def staff_read_all(request: HttpRequest) -> HttpResponse:
    return _read_all(request, STAFF)


@staff_required()
def staff_preferences(request: HttpRequest) -> HttpResponse:
    return _preferences(request, STAFF)


# Sending, and following what was sent.


@staff_required()
def staff_sent_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.sent_messages(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "notifications/staff_sent_list.html", {"page": page})


@staff_required()
def staff_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(selectors.sent_messages(request.user), pk=pk)  # a colleague's message: 404
    recipients = Paginator(selectors.message_recipients(message), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/staff_message.html", {"message": message, "recipients": recipients})


@staff_required()
def staff_compose(request: HttpRequest) -> HttpResponse:
    """Compose, preview who it reaches (and who by e-mail), then send what was previewed.

    A send whose audience, type or priority changed since the preview is previewed again instead, so the
    figures the sender confirmed are the ones that go out.
    """
    form = ComposeForm(request.POST or None, actor=request.user)
    preview: services.AudiencePreview | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "send" and form.was_previewed:
                message = services.message_send(
                    actor=request.user,
                    audience=form.audience_value,
                    title=data["title"],
                    body=data["body"],
                    type=data["type"],
                    priority=data["priority"],
                )
                count = message.recipient_count
                messages.success(request, f"Sent to {count} recipient{'s' if count != 1 else ''}.")
                return redirect("staff-notification-message", message.pk)
            preview = services.message_preview(
                actor=request.user, audience=form.audience_value, type=data["type"], priority=data["priority"]
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            if request.POST.get("action") == "send":
                messages.warning(request, "The recipients changed since your preview: check them, then send.")
    context: dict[str, Any] = {"form": form, "preview": preview}
    if preview is not None:
        context["preview_key"] = form.preview_key
    return render(request, "notifications/staff_compose.html", context)


# Absence alerts.


@staff_required(Role.ADMINISTRATOR, Role.OFFICE)
def staff_absence_alerts(request: HttpRequest) -> HttpResponse:
    current = AbsenceAlertSettings.current()
    if request.method == "POST":
        form = AbsenceAlertSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.absence_alert_settings_update(**form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(request, "Absence alert settings saved.")
                return redirect("staff-absence-alerts")
    else:
        form = AbsenceAlertSettingsForm(
            initial={"enabled": current.enabled, "title": current.title, "body": current.body}
        )
    example = {"title": services.alert_example(current.title), "body": services.alert_example(current.body)}
    return render(
        request, "notifications/staff_absence_alerts.html", {"form": form, "current": current, "example": example}
    )
