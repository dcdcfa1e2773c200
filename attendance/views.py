"""Pages of the register: taking registers, completion, corrections, a student's attendance, reports with CSV
downloads, and parents' absence reports with the office's decisions.

Who may open what: teachers, the office and administrators take registers (a teacher only for the class groups
they tutor or teach: any other is 404) and see reports of the class groups they may see; completion,
corrections and absence reports are the office's (and administrators'). Parents see and report only for their
own children (anyone else's is 404).
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attendance import forms, selectors, services
from attendance.models import AbsenceReport, AttendanceRecord, session_names
from attendance.selectors import AttendanceFigures
from attendance.templatetags.attendance_format import percent
from harmony.decorators import staff_required
from harmony.errors import Conflict, PreconditionFailed
from harmony.roles import Role
from students.models import ClassGroup, Student
from students.selectors import children_of
from students.views import family_required

OFFICE = (Role.ADMINISTRATOR, Role.OFFICE)
REGISTER_TAKERS = (Role.ADMINISTRATOR, Role.OFFICE, Role.TEACHER)
HISTORY_PAGE_SIZE = 50


def _edit_window_problem(request: HttpRequest, date: datetime.date) -> str:
    try:
        services.check_edit_window(request.user, date)
    except PermissionDenied as error:
        return str(error)
    return ""


@staff_required(*REGISTER_TAKERS)
def register_list(request: HttpRequest) -> HttpResponse:
    """The registers of one day (today unless asked): a teacher's own class groups, or every group for the office."""
    day = forms.DayForm(request.GET).day()
    groups = ClassGroup.objects.visible_to(request.user).select_related("form_tutor")
    context = {
        "day": day,
        "today": timezone.localdate(),
        "slots": selectors.register_slots(class_groups=groups, date=day),
        "problem": services.school_day_problem(day),
    }
    return render(request, "attendance/register_list.html", context)


@staff_required(*REGISTER_TAKERS)
def register(request: HttpRequest, class_group: int, date: datetime.date, session: str) -> HttpResponse:
    """Show and take one register, all or nothing.

    A future date or a closed day answers 400 with the reason; a mark the service refuses re-shows the form with
    the reason next to the student (400) and writes nothing; a teacher past the edit window sees the register
    but cannot change it (403 on submit).
    """
    group = get_object_or_404(ClassGroup.objects.visible_to(request.user), pk=class_group)
    if session not in session_names():
        raise Http404("No such session.")
    slots = selectors.register_slots(class_groups=ClassGroup.objects.filter(pk=group.pk), date=date)
    context: dict[str, Any] = {
        "class_group": group,
        "date": date,
        "session": session,
        "slot": next(slot for slot in slots if slot.session == session),
    }
    if problem := services.school_day_problem(date):
        return render(request, "attendance/register.html", {**context, "problem": problem}, status=400)

    rows = selectors.register_sheet(group, date, session)
    office = services.is_office(request.user)
    form = forms.RegisterForm(request.POST or None, rows=rows, codes=list(selectors.active_codes()), office=office)
    read_only = _edit_window_problem(request, date)
    status = 200
    if request.method == "POST":
        status = 400
        if read_only:
            form.add_error(None, read_only)
            status = 403
        elif form.is_valid():
            marks = form.marks()
            try:
                result = services.register_submit(
                    actor=request.user, class_group=group, date=date, session=session, marks=marks
                )
            except ValidationError as error:
                form.add_service_errors(error, marks)
            except PermissionDenied as error:
                form.add_error(None, str(error))
                status = 403
            else:
                messages.success(
                    request,
                    f"{group.name} {session} register saved for {date:%A} {date.day} {date:%B}: {len(marks)} students, "
                    f"{result.created} new mark{'s' if result.created != 1 else ''}, {result.updated} changed.",
                )
                return redirect(f"{reverse('attendance-registers')}?date={date:%Y-%m-%d}")
    context |= {
        "form": form,
        "rows": form.display_rows(),
        "read_only": read_only,
        "office": office,
        "unsaved": sum(1 for row in rows if row.record is None),
    }
    return render(request, "attendance/register.html", context, status=status)


@staff_required(*OFFICE)
def completion(request: HttpRequest) -> HttpResponse:
    """Which registers of a day are taken, taken late, still open, or missing after they closed."""
    day = forms.DayForm(request.GET).day()
    groups = ClassGroup.objects.visible_to(request.user).select_related("form_tutor")
    slots = selectors.register_slots(class_groups=groups, date=day)
    context = {
        "day": day,
        "today": timezone.localdate(),
        "slots": slots,
        "missing": [slot for slot in slots if slot.is_missing],
        "taken": sum(1 for slot in slots if slot.register and slot.register.submitted_at),
        "taken_late": sum(1 for slot in slots if slot.register and slot.register.is_late),
        "problem": services.school_day_problem(day),
    }
    return render(request, "attendance/completion.html", context)


@staff_required(*OFFICE)
def correction(request: HttpRequest, pk: int) -> HttpResponse:
    """The office changes one mark; every change is kept and shown."""
    record = get_object_or_404(selectors.record_list(actor=request.user), pk=pk)
    form = forms.CorrectionForm(request.POST or None, record=record, codes=list(selectors.active_codes()))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                updated = services.record_update(
                    actor=request.user,
                    record=record,
                    fields=form.changes(),
                    expected_version=form.cleaned_data["version"],
                    source=AttendanceRecord.Source.OFFICE,
                )
            except PreconditionFailed:
                messages.error(
                    request,
                    "Someone changed this mark while you had it open. This is the mark as it is now: "
                    "make your change again if it is still needed.",
                )
                return redirect("attendance-correction", pk=record.pk)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                changed = updated.version != record.version
                messages.success(request, "Mark changed." if changed else "Nothing to change: the mark is as it was.")
                return redirect("attendance-correction", pk=record.pk)
    context = {"record": record, "form": form, "history": selectors.mark_history(record)}
    return render(request, "attendance/correction.html", context, status=status)


@staff_required(*REGISTER_TAKERS)
def student_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """A student's marks over a date range with their figures; a teacher sees only their own classes' students."""
    student = get_object_or_404(Student.objects.visible_to(request.user).select_related("class_group"), pk=pk)
    range_form = forms.DateRangeForm(request.GET or None)
    start, end = range_form.date_range()
    history = Paginator(selectors.student_history(student, start, end), HISTORY_PAGE_SIZE)
    context = {
        "student": student,
        "range_form": range_form,
        "start": start,
        "end": end,
        "figures": selectors.figures_for_student(student, start, end),
        "page": history.get_page(request.GET.get("page")),
        "office": services.is_office(request.user),
    }
    return render(request, "attendance/student.html", context)


def _report_scope(
    request: HttpRequest,
) -> tuple[forms.ReportForm, QuerySet[ClassGroup], QuerySet[Student], datetime.date, datetime.date]:
    """The report's form, class groups, students and range; a teacher's reports cover only their own groups."""
    visible = ClassGroup.objects.visible_to(request.user)
    form = forms.ReportForm(request.GET or None, class_groups=visible)
    start, end = form.date_range()
    groups = form.chosen_groups(visible)
    students = Student.objects.visible_to(request.user).filter(class_group__in=groups)
    return form, groups, students, start, end


def _persistent(by_student: Iterable[tuple[Student, AttendanceFigures]]) -> list[tuple[Student, AttendanceFigures]]:
    rows = [(student, figures) for student, figures in by_student if figures.persistent_absence]
    return sorted(rows, key=lambda row: -(row[1].absence_rate or 0))


def _late(by_student: Iterable[tuple[Student, AttendanceFigures]]) -> list[tuple[Student, AttendanceFigures]]:
    return sorted(((s, f) for s, f in by_student if f.late), key=lambda row: -row[1].late)


@staff_required(*REGISTER_TAKERS)
def reports(request: HttpRequest) -> HttpResponse:
    """Attendance over a date range: per class group and per student, persistent absence and late arrivals."""
    form, groups, students, start, end = _report_scope(request)
    by_student = selectors.figures_by_student(students, start, end)
    context = {
        "form": form,
        "start": start,
        "end": end,
        "by_group": selectors.figures_by_class_group(groups, start, end),
        "by_student": by_student,
        "persistent": _persistent(by_student),
        "late": _late(by_student),
        "query": request.GET.urlencode(),
    }
    return render(request, "attendance/reports.html", context)


def _number(rate: float | None) -> str:
    return "" if rate is None else percent(rate).removesuffix("%")


def _cell(value: Any) -> Any:
    # A name such as "=HYPERLINK(...)" must stay text when the file is opened in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


FIGURE_HEADINGS = ["Possible sessions", "Attended", "Authorised absence", "Unauthorised absence", "Late"]


def _figure_cells(figures: AttendanceFigures) -> list[Any]:
    return [figures.possible, figures.attended, figures.authorised, figures.unauthorised, figures.late]


def _student_cells(student: Student) -> list[Any]:
    group = student.class_group.name if student.class_group else ""
    return [student.roll_number, student.first_name, student.last_name, group]


STUDENT_HEADINGS = ["Roll number", "First name", "Last name", "Class group"]


def _students_csv(by_student: list[tuple[Student, AttendanceFigures]], **_: Any) -> Iterable[list[Any]]:
    yield [*STUDENT_HEADINGS, *FIGURE_HEADINGS, "Attendance rate (%)", "Absence rate (%)", "Persistent", "Severe"]
    for student, f in by_student:
        flags = ["yes" if f.persistent_absence else "no", "yes" if f.severe_absence else "no"]
        yield [*_student_cells(student), *_figure_cells(f), _number(f.rate), _number(f.absence_rate), *flags]


def _class_groups_csv(by_group: list[tuple[ClassGroup, AttendanceFigures]], **_: Any) -> Iterable[list[Any]]:
    yield ["Class group", "Year group", *FIGURE_HEADINGS, "Attendance rate (%)", "Absence rate (%)"]
    for group, f in by_group:
        yield [group.name, group.year_group, *_figure_cells(f), _number(f.rate), _number(f.absence_rate)]


def _persistent_csv(by_student: list[tuple[Student, AttendanceFigures]], **_: Any) -> Iterable[list[Any]]:
    yield [*STUDENT_HEADINGS, "Possible sessions", "Sessions missed", "Absence rate (%)", "Level"]
    for student, f in _persistent(by_student):
        level = "severe" if f.severe_absence else "persistent"
        yield [*_student_cells(student), f.possible, f.missed, _number(f.absence_rate), level]


def _late_csv(by_student: list[tuple[Student, AttendanceFigures]], **_: Any) -> Iterable[list[Any]]:
    yield [*STUDENT_HEADINGS, "Late", "Possible sessions"]
    for student, f in _late(by_student):
        yield [*_student_cells(student), f.late, f.possible]


CSV_REPORTS: dict[str, Callable[..., Iterable[list[Any]]]] = {
    "students": _students_csv,
    "class-groups": _class_groups_csv,
    "persistent-absence": _persistent_csv,
    "late-arrivals": _late_csv,
}


@staff_required(*REGISTER_TAKERS)
def report_csv(request: HttpRequest, kind: str) -> HttpResponse:
    """One of the reports as a CSV file, for the same range and class groups as the page; a bad range is 400."""
    if kind not in CSV_REPORTS:
        raise Http404("No such report.")
    form, groups, students, start, end = _report_scope(request)
    if form.is_bound and not form.is_valid():  # a file must never quietly cover another range than asked
        problems = " ".join(message for messages in form.errors.values() for message in messages)
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    if kind == "class-groups":
        data = {"by_group": selectors.figures_by_class_group(groups, start, end)}
    else:
        data = {"by_student": selectors.figures_by_student(students, start, end)}
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-{kind}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"'
    response.write("\ufeff")  # so that spreadsheets read the names as UTF-8
    writer = csv.writer(response)
    for row in CSV_REPORTS[kind](**data):
        writer.writerow([_cell(value) for value in row])
    return response


ABSENCE_FILTERS = {"pending": AbsenceReport.Status.PENDING, "accepted": "accepted", "rejected": "rejected", "all": ""}


@staff_required(*OFFICE)
def absence_reports(request: HttpRequest) -> HttpResponse:
    """Parents' absence reports, the pending ones first to decide."""
    shown = request.GET.get("status", "pending")
    if shown not in ABSENCE_FILTERS:
        shown = "pending"
    reports = Paginator(selectors.absence_reports_for_office(ABSENCE_FILTERS[shown]), 25)
    context = {"page": reports.get_page(request.GET.get("page")), "shown": shown, "filters": list(ABSENCE_FILTERS)}
    return render(request, "attendance/absence_reports.html", context)


@staff_required(*OFFICE)
@require_POST
def absence_report_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept (the absence becomes authorised on the register) or reject a parent's report."""
    report = get_object_or_404(selectors.absence_reports_for_office(""), pk=pk)
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to accept or reject the report.")
        return redirect("attendance-absence-reports")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        services.absence_report_decide(
            actor=request.user, report=report, accept=accept, note=form.cleaned_data["note"].strip()
        )
    except Conflict as error:
        messages.error(request, error.message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        name = report.student.full_name
        if accept:
            messages.success(request, f"Accepted: {name}'s absence is authorised on the register.")
        else:
            messages.success(request, f"Rejected: {name}'s register marks are unchanged.")
    return redirect("attendance-absence-reports")


@family_required
def family_child_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """A parent's view of one of their children's attendance this school year, and their absence reports."""
    children = children_of(request.user)
    child = get_object_or_404(children, pk=pk)
    start, end = selectors.default_report_range()
    history = Paginator(selectors.student_history(child, start, end), HISTORY_PAGE_SIZE)
    context = {
        "child": child,
        "start": start,
        "end": end,
        "figures": selectors.figures_for_student(child, start, end),
        "page": history.get_page(request.GET.get("page")),
        "reports": selectors.absence_reports_of(children.filter(pk=child.pk)),
    }
    return render(request, "attendance/family_child.html", context)


@family_required
def family_absences(request: HttpRequest) -> HttpResponse:
    """The absences a family reported, with the office's decision on each."""
    children = children_of(request.user)
    context = {"children": children, "reports": selectors.absence_reports_of(children)}
    return render(request, "attendance/family_absences.html", context)


@family_required
def family_absence_new(request: HttpRequest) -> HttpResponse:
    """A parent reports that one of their children is, or was, away."""
    children = children_of(request.user)
    chosen = request.GET.get("child", "")
    initial = {"student": int(chosen)} if chosen.isdigit() else {}
    form = forms.AbsenceReportForm(request.POST or None, children=children, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.absence_report_create(
                    guardian=request.user.guardian,
                    student=data["student"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    sessions=data["sessions"],
                    reason=data["reason"],
                    details=data["details"].strip(),
                )
            except ValidationError as error:
                form.add_service_errors(error)
            except PermissionDenied:
                raise Http404 from None
            else:
                messages.success(
                    request,
                    f"Thank you. The school office will look at your report about {data['student'].first_name}.",
                )
                return redirect("family-child-attendance", pk=data["student"].pk)
    return render(request, "attendance/family_absence_form.html", {"form": form, "children": children}, status=status)
