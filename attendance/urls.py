"""Attendance pages: the register and the office's pages in the staff portal, and the family pages."""

from __future__ import annotations

import datetime

from django.urls import path, register_converter

from attendance import views


class IsoDateConverter:
    """A date in the path as YYYY-MM-DD; an impossible one (2026-02-30) matches nothing, so it is a 404."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)

    def to_url(self, value: datetime.date | str) -> str:
        return value if isinstance(value, str) else value.isoformat()


register_converter(IsoDateConverter, "isodate")

urlpatterns = [
    path("staff/attendance/", views.register_list, name="attendance-registers"),
    path(
        "staff/attendance/registers/<int:class_group>/<isodate:date>/<str:session>/",
        views.register,
        name="attendance-register",
    ),
    path("staff/attendance/completion/", views.completion, name="attendance-completion"),
    path("staff/attendance/records/<int:pk>/", views.correction, name="attendance-correction"),
    path("staff/attendance/students/<int:pk>/", views.student_attendance, name="attendance-student"),
    path("staff/attendance/reports/", views.reports, name="attendance-reports"),
    path("staff/attendance/reports/<slug:kind>.csv", views.report_csv, name="attendance-report-csv"),
    path("staff/attendance/absence-reports/", views.absence_reports, name="attendance-absence-reports"),
    path(
        "staff/attendance/absence-reports/<int:pk>/decide/",
        views.absence_report_decide,
        name="attendance-absence-decide",
    ),
    path("family/children/<int:pk>/attendance/", views.family_child_attendance, name="family-child-attendance"),
    path("family/absences/", views.family_absences, name="family-absences"),
    path("family/absences/new/", views.family_absence_new, name="family-absence-new"),
]
