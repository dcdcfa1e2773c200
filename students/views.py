"""Pages: the staff dashboard and student pages, and the family home with a guardian's children."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from harmony.decorators import staff_required
from students import selectors
from students.models import Guardianship, Student


def family_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require a signed-in guardian; anyone else signs in on the family page or gets 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("family-login"))
        if not hasattr(request.user, "guardian"):
            raise PermissionDenied("These pages are for parents and guardians.")
        return view(request, *args, **kwargs)

    return wrapped


@staff_required()
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "students/staff_dashboard.html", {"figures": selectors.school_figures()})


@staff_required()
def staff_student_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    students = selectors.student_list(actor=request.user, search=search)
    page = Paginator(students, 25).get_page(request.GET.get("page"))
    return render(request, "students/staff_student_list.html", {"page": page, "search": search})


@staff_required()
def staff_student_detail(request: HttpRequest, pk: int) -> HttpResponse:
    student = get_object_or_404(Student.objects.visible_to(request.user).select_related("class_group"), pk=pk)
    links = Guardianship.objects.filter(student=student).select_related("guardian__user")
    return render(request, "students/staff_student_detail.html", {"student": student, "links": links})


@family_required
def family_home(request: HttpRequest) -> HttpResponse:
    children = selectors.children_of(request.user)
    return render(request, "students/family_home.html", {"children": children})


@family_required
def family_child(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_object_or_404(selectors.children_of(request.user), pk=pk)
    return render(request, "students/family_child.html", {"child": child})
