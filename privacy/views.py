"""Pages: consent, copies and erasure for families; coverage, paper forms, texts, requests and the log for staff.

Who may open what (the sweep in tests/privacy/test_pages.py holds each rule to account):

- guardians: their own children's consent, their own requests and downloads, what was shared about their
  children; never another family's (404);
- every member of staff: consent coverage; a teacher only for the class groups they tutor or teach, counts
  only, no child by name;
- office staff, administrators and the privacy officer (the "privacy desk"): paper consent forms and requests
  opened on a family's behalf, for the whole school;
- administrators and the privacy officer: consent texts, the request queue and its decisions, the disclosure log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from harmony.decorators import staff_required
from harmony.errors import Conflict
from harmony.roles import Role
from privacy import consent, selectors, services
from privacy.forms import (
    ConsentAnswerForm,
    DecisionForm,
    DisclosureSearchForm,
    FamilyRequestForm,
    PaperConsentForm,
    StaffRequestForm,
    TextPublishForm,
)
from privacy.models import ConsentDecision, PrivacyRequest, Purpose
from students.models import ClassGroup, Student
from students.selectors import children_of
from students.views import family_required

DESK = (Role.ADMINISTRATOR, Role.OFFICE, Role.PRIVACY_OFFICER)
OFFICERS = (Role.ADMINISTRATOR, Role.PRIVACY_OFFICER)
Decision = ConsentDecision.Decision
DONE = {
    Decision.GRANTED: "You agreed to “{purpose}” for {child}.",
    Decision.WITHDRAWN: "You withdrew your consent to “{purpose}” for {child}.",
    Decision.REFUSED: "You did not agree to “{purpose}” for {child}.",
}


def _staff_page(
    request: HttpRequest, template: str, section: str, context: dict[str, Any], **kwargs: Any
) -> HttpResponse:
    """Render a staff privacy page with the tabs this member of staff may use."""
    user = request.user
    access = {"desk": user.has_role(*DESK), "officer": user.has_role(*OFFICERS)}
    return render(request, template, {"access": access, "section": section, **context}, **kwargs)


# Families


@family_required
def family_consents(request: HttpRequest) -> HttpResponse:
    children = selectors.family_consents(request.user.guardian)
    context = {
        "children": children,
        "consent_needs_answer": selectors.count_needing_answer(children),
        "refusal_wins": settings.CONSENT_RULE != "latest_decision_wins",
    }
    return render(request, "privacy/family_consents.html", context)


@family_required
@require_POST
def family_consent_decide(request: HttpRequest, student: int, purpose: str) -> HttpResponse:
    """Record one answer of a guardian: one button, whether it grants or withdraws."""
    guardian = request.user.guardian
    child = get_object_or_404(Student.objects.live().filter(guardianships__guardian=guardian), pk=student)
    chosen = get_object_or_404(Purpose, code=purpose, is_active=True, requires_consent=True)
    form = ConsentAnswerForm(request.POST)
    if form.is_valid():
        decision = consent.decision_for_toggle(student=child, purpose=chosen, guardian=guardian, agree=form.agrees)
        try:
            consent.consent_record(
                student=child,
                purpose=chosen,
                guardian=guardian,
                decision=decision,
                method=ConsentDecision.Method.FAMILY_PAGE,
                recorded_by=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, DONE[decision].format(purpose=chosen.title, child=child.first_name))
    else:
        messages.error(request, "Choose to agree or not to agree.")
    return redirect(f"{reverse('family-consents')}#consent-{child.pk}-{chosen.code}")


@family_required
def family_privacy(request: HttpRequest) -> HttpResponse:
    """A guardian's requests for a copy or an erasure, and the form to make one."""
    children = list(children_of(request.user))
    form = FamilyRequestForm(request.POST or None, user=request.user, children=children)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.request_create(
                kind=form.cleaned_data["kind"],
                requested_by=request.user,
                via=PrivacyRequest.Via.FAMILY_PAGE,
                student=form.student,
            )
        except Conflict as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"Your request is sent. The school will answer by {created.due_on:%-d %B %Y}.",
            )
            return redirect("family-privacy")
    context = {"form": form, "requests": selectors.requests_of(request.user), "now": timezone.now()}
    return render(request, "privacy/family_privacy.html", context)


@family_required
def family_disclosures(request: HttpRequest) -> HttpResponse:
    """Which partner systems received each child's data, what and when."""
    children = list(children_of(request.user))
    shared: dict[int, list[dict[str, Any]]] = {child.pk: [] for child in children}
    for row in selectors.disclosures_for(Student.objects.filter(pk__in=shared)):
        shared[row["studentId"]].append({**row, "at": datetime.fromisoformat(row["at"])})
    context = {"children": [(child, shared[child.pk]) for child in children]}
    return render(request, "privacy/family_disclosures.html", context)


def download(request: HttpRequest, token: Any) -> HttpResponse:
    """Serve an export to whoever asked for it, its subject, or the privacy officer; 404 to anyone else."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("family-login"))
    found = PrivacyRequest.objects.filter(download_token=token).first()
    try:
        if found is None:
            raise PrivacyRequest.DoesNotExist
        path = services.export_download(request=found, user=user)
    except PrivacyRequest.DoesNotExist as missing:
        raise Http404("No such download.") from missing
    except Conflict:
        base = "staff_base.html" if user.is_school_staff and not hasattr(user, "guardian") else "family_base.html"
        return render(request, "privacy/download_expired.html", {"base": base, "found": found}, status=410)
    if not path.is_file():
        raise Http404("No such download.")
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=f"harmony-data-{found.pk}.zip", content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


# Staff


@staff_required()
def staff_coverage(request: HttpRequest) -> HttpResponse:
    """Consent coverage per purpose and per class group; a teacher sees only their own class groups."""
    user = request.user
    class_groups = None if user.has_role(*DESK) else ClassGroup.objects.taught_by(user)
    by_purpose = selectors.coverage_by_purpose(class_groups)
    purposes = [row["purpose"] for row in by_purpose]
    chosen = next((p for p in purposes if p.code == request.GET.get("purpose")), purposes[0] if purposes else None)
    context = {
        "by_purpose": by_purpose,
        "purposes": purposes,
        "chosen": chosen,
        "by_class_group": selectors.coverage_by_class_group(chosen, class_groups) if chosen else [],
        "whole_school": class_groups is None,
    }
    return _staff_page(request, "privacy/staff_coverage.html", "coverage", context)


@staff_required(*DESK)
def staff_paper_forms(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    context = {"search": search, "students": selectors.student_search(search)}
    return _staff_page(request, "privacy/staff_paper_forms.html", "paper", context)


@staff_required(*DESK)
def staff_paper_form(request: HttpRequest, pk: int) -> HttpResponse:
    """Enter a paper consent form: the guardian who signed, the purpose, their answer."""
    student = get_object_or_404(Student.objects.live().select_related("class_group"), pk=pk)
    record = selectors.child_consents(student)
    purposes = [purpose for purpose, _ in record["states"]]
    form = PaperConsentForm(request.POST or None, guardians=record["guardians"], purposes=purposes)
    if request.method == "POST" and form.is_valid():
        guardian, purpose = form.chosen()
        try:
            entry = consent.consent_record(
                student=student,
                purpose=purpose,
                guardian=guardian,
                decision=form.cleaned_data["decision"],
                method=ConsentDecision.Method.PAPER_FORM,
                recorded_by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, " ".join(error.messages))
        else:
            messages.success(
                request,
                f"Recorded: {guardian} — {entry.get_decision_display().lower()} — “{purpose.title}” "
                f"for {student.full_name} (paper form).",
            )
            return redirect("staff-privacy-paper-form", pk=student.pk)
    context = {"student": student, "form": form, **record}
    return _staff_page(request, "privacy/staff_paper_form.html", "paper", context)


@staff_required(*OFFICERS)
def staff_texts(request: HttpRequest) -> HttpResponse:
    purposes = Purpose.objects.filter(is_active=True).prefetch_related("texts")
    return _staff_page(request, "privacy/staff_texts.html", "texts", {"purposes": purposes})


@staff_required(*OFFICERS)
def staff_text(request: HttpRequest, code: str) -> HttpResponse:
    """Publish a new version of a purpose's text, asking families to agree again when it says so."""
    purpose = get_object_or_404(Purpose.objects.prefetch_related("texts"), code=code, is_active=True)
    texts = list(purpose.texts.all())
    active = next((t for t in texts if t.status == "active"), None)
    form = TextPublishForm(request.POST or None, initial={"text": active.text if active else ""})
    if request.method == "POST" and form.is_valid():
        try:
            new = consent.text_publish(
                purpose=purpose,
                text=form.cleaned_data["text"],
                requires_reconsent=form.cleaned_data["requires_reconsent"],
            )
        except ValidationError as error:
            form.add_error("text", " ".join(error.messages))
        else:
            again = " Families who agreed before are asked to agree again." if new.requires_reconsent else ""
            messages.success(request, f"Version {new.version} of “{purpose.title}” is published.{again}")
            return redirect("staff-privacy-text", code=purpose.code)
    context = {"purpose": purpose, "texts": texts, "active": active, "form": form}
    return _staff_page(request, "privacy/staff_text.html", "texts", context)


@staff_required(*OFFICERS)
def staff_requests(request: HttpRequest) -> HttpResponse:
    """The privacy officer's queue: open requests by due date, overdue and due-soon ones flagged."""
    today = timezone.localdate()
    context = {"queue": selectors.request_queue(due_within_days=7), "today": today, "soon": today + timedelta(days=7)}
    return _staff_page(request, "privacy/staff_requests.html", "requests", context)


def _request_page(request: HttpRequest, found: PrivacyRequest, form: DecisionForm, status: int = 200) -> HttpResponse:
    today = timezone.localdate()
    context = {"found": found, "form": form, "now": timezone.now(), "today": today, "soon": today + timedelta(days=7)}
    return _staff_page(request, "privacy/staff_request.html", "requests", context, status=status)


def _request(pk: int) -> PrivacyRequest:
    related = ("subject_student", "subject_user", "requested_by", "decided_by")
    return get_object_or_404(PrivacyRequest.objects.select_related(*related), pk=pk)


@staff_required(*OFFICERS)
def staff_request(request: HttpRequest, pk: int) -> HttpResponse:
    return _request_page(request, _request(pk), DecisionForm())


@staff_required(*OFFICERS)
@require_POST
def staff_request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    found = _request(pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _request_page(request, found, form, status=400)
    try:
        services.request_decide(
            officer=request.user, request=found, approve=form.approves, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        form.add_error("reason", " ".join(error.messages))
        return _request_page(request, found, form, status=400)
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Approved: it is being carried out." if form.approves else "Rejected.")
    return redirect("staff-privacy-request", pk=found.pk)


@staff_required(*OFFICERS)
@require_POST
def staff_request_retry(request: HttpRequest, pk: int) -> HttpResponse:
    found = _request(pk)
    try:
        services.request_retry(officer=request.user, request=found)
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "It will be carried out again; the steps already finished are not redone.")
    return redirect("staff-privacy-request", pk=found.pk)


@staff_required(*DESK)
def staff_request_new(request: HttpRequest) -> HttpResponse:
    """Open a request on a family's behalf (a letter, a telephone call, a visit to the office)."""
    form = StaffRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.request_create(
                kind=form.cleaned_data["kind"],
                requested_by=request.user,
                via=PrivacyRequest.Via.STAFF,
                student=form.student,
                subject_user=form.subject_user,
            )
        except Conflict as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Request #{created.pk} is open; it is due by {created.due_on:%-d %B %Y}.")
            if request.user.has_role(*OFFICERS):
                return redirect("staff-privacy-request", pk=created.pk)
            return redirect("staff-privacy-request-new")
    return _staff_page(request, "privacy/staff_request_new.html", "new-request", {"form": form})


@staff_required(*OFFICERS)
def staff_disclosures(request: HttpRequest) -> HttpResponse:
    """The disclosure log, searchable by application, child and dates, 25 to a page."""
    form = DisclosureSearchForm(request.GET or None)
    filters = form.filters()
    page = Paginator(selectors.disclosure_log(**filters), 25).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "searching_child": bool(filters["child"].strip())}
    return _staff_page(request, "privacy/staff_disclosures.html", "disclosures", context)
