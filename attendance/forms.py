"""Forms of the attendance pages: they parse and check what a person typed; the services decide the rules."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from attendance import selectors, services
from attendance.models import AbsenceReport, AttendanceCode, AttendanceRecord, session_names
from attendance.selectors import SheetRow
from students.models import ClassGroup, Student

Category = AttendanceCode.Category
MAX_MINUTES_LATE = 300


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def takes_minutes(code: AttendanceCode) -> bool:
    """Whether the register asks for minutes late with this code: late before or after the register closed."""
    return code.category == Category.LATE or code.code == "U"


def tally_group(code: AttendanceCode) -> str:
    """The heading a code is counted under in the register's running tally."""
    if takes_minutes(code):
        return "late"
    if code.category == Category.PRESENT:
        return "present"
    if code.is_absence:
        return "absent"
    return "other"


class DayForm(forms.Form):
    """The day a list of registers is for; today unless another (valid) day is asked for."""

    date = forms.DateField(required=False, widget=DateInput())

    def day(self) -> datetime.date:
        if self.is_valid() and self.cleaned_data["date"]:
            return self.cleaned_data["date"]
        return timezone.localdate()


class DateRangeForm(forms.Form):
    """A date range; an empty end means today and an empty start the start of the school year."""

    start = forms.DateField(required=False, widget=DateInput(), label="From")
    end = forms.DateField(required=False, widget=DateInput(), label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        default_start, default_end = selectors.default_report_range()
        data["start"] = data.get("start") or default_start
        data["end"] = data.get("end") or default_end
        if data["end"] < data["start"]:
            self.add_error("end", "The end of the range is before its start.")
        return data

    def date_range(self) -> tuple[datetime.date, datetime.date]:
        if self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return selectors.default_report_range()


class ReportForm(DateRangeForm):
    class_group = forms.ModelChoiceField(
        queryset=ClassGroup.objects.none(), required=False, empty_label="All my class groups", label="Class group"
    )

    def __init__(self, *args: Any, class_groups: QuerySet[ClassGroup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["class_group"].queryset = class_groups.order_by("year_group", "name")  # type: ignore[attr-defined]

    def chosen_groups(self, class_groups: QuerySet[ClassGroup]) -> QuerySet[ClassGroup]:
        chosen = self.cleaned_data.get("class_group") if self.is_valid() else None
        return class_groups.filter(pk=chosen.pk) if chosen else class_groups


@dataclass
class RegisterRow:
    """One student's line on the register form, ready for the template."""

    sheet: SheetRow
    choices: list[tuple[AttendanceCode, str]]  # each code with its tally group
    selected: str
    other_selected: str
    minutes: Any
    remarks: str
    errors: list[str]

    @property
    def student(self) -> Student:
        return self.sheet.student

    @property
    def saved(self) -> bool:
        return self.sheet.record is not None

    @property
    def shows_minutes(self) -> bool:
        """Whether the minutes-late box is needed straight away (scripts hide it otherwise)."""
        code = next((c for c, _ in self.choices if c.code == self.selected), None)
        return bool(self.minutes) or (code is not None and takes_minutes(code))


class RegisterForm(forms.Form):
    """A whole register: per student a code (`code-<id>`), for the office another code (`other-<id>`), minutes
    late (`minutes-<id>`) and a remark (`remarks-<id>`). Every student starts with their saved mark, else an
    accepted parent report's code, else present."""

    def __init__(
        self,
        *args: Any,
        rows: list[SheetRow],
        codes: list[AttendanceCode],
        office: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sheet = rows
        self.office = office
        self.codes = {code.code: code for code in codes}
        for row in rows:
            if row.record:  # a retired code on an old mark is still shown (the service refuses it if kept)
                self.codes.setdefault(row.record.code.code, row.record.code)
        self.quick_codes = [c for c in codes if c.usable_by == AttendanceCode.UsableBy.TEACHERS]
        self.other_codes = [c for c in codes if c.usable_by == AttendanceCode.UsableBy.OFFICE]
        self.other_choices = [(code, tally_group(code)) for code in self.other_codes]
        for row in rows:
            pk = row.student.pk
            name = row.student.full_name
            self.fields[f"code-{pk}"] = forms.ChoiceField(
                choices=[(c, c) for c in self.codes],
                initial=row.code,
                error_messages={
                    "required": f"Choose a mark for {name}.",
                    "invalid_choice": "%(value)s is not an attendance code.",
                },
            )
            if office:
                self.fields[f"other-{pk}"] = forms.ChoiceField(
                    choices=[("", "")] + [(c.code, c.code) for c in self.other_codes],
                    required=False,
                    error_messages={"invalid_choice": "%(value)s is not an attendance code."},
                )
            self.fields[f"minutes-{pk}"] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=MAX_MINUTES_LATE,
                initial=row.record.minutes_late if row.record else None,
            )
            self.fields[f"remarks-{pk}"] = forms.CharField(
                required=False, max_length=500, initial=row.record.remarks if row.record else ""
            )

    def marks(self) -> list[services.Mark]:
        """Return the marks to submit, in the order of the register (call after `is_valid()`)."""
        marks = []
        for row in self.sheet:
            pk = row.student.pk
            code = self.cleaned_data.get(f"other-{pk}") or self.cleaned_data[f"code-{pk}"]
            marks.append(
                services.Mark(
                    student_id=pk,
                    code=self.codes[code],
                    minutes_late=self.cleaned_data[f"minutes-{pk}"],
                    remarks=self.cleaned_data[f"remarks-{pk}"].strip(),
                )
            )
        return marks

    def add_service_errors(self, error: ValidationError, marks: list[services.Mark]) -> None:
        """Put the service's errors (`marks[3].code`, `date`) next to the student or at the top of the form."""
        fields = {"code": "code", "minutesLate": "minutes", "studentId": "code"}
        for key, messages in error.message_dict.items():
            field = None
            if key.startswith("marks[") and "]." in key:
                index, _, name = key.removeprefix("marks[").partition("].")
                if index.isdigit() and int(index) < len(marks):
                    field = f"{fields.get(name, 'code')}-{marks[int(index)].student_id}"
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    def display_rows(self) -> list[RegisterRow]:
        """Return each student's line with the codes to offer and the values to show."""
        rows = []
        for row in self.sheet:
            pk = row.student.pk
            selected = str(self[f"code-{pk}"].value() or "")
            other = str(self[f"other-{pk}"].value() or "") if self.office else ""
            choices = list(self.quick_codes)
            for extra in (row.code, selected):
                if extra in self.codes and all(c.code != extra for c in choices):
                    choices.append(self.codes[extra])
            errors = [
                message
                for name in (f"code-{pk}", f"other-{pk}", f"minutes-{pk}", f"remarks-{pk}")
                for message in self.errors.get(name, [])
            ]
            rows.append(
                RegisterRow(
                    sheet=row,
                    choices=[(code, tally_group(code)) for code in choices],
                    selected=selected,
                    other_selected=other,
                    minutes=self[f"minutes-{pk}"].value() or "",
                    remarks=self[f"remarks-{pk}"].value() or "",
                    errors=errors,
                )
            )
        return rows


class CorrectionForm(forms.Form):
    """The office's change to one mark. `version` is the mark the office saw, so a change in between is caught."""

    code = forms.ChoiceField(label="Mark")
    minutes_late = forms.IntegerField(label="Minutes late", required=False, min_value=0, max_value=MAX_MINUTES_LATE)
    remarks = forms.CharField(label="Remark", required=False, max_length=500)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, record: AttendanceRecord, codes: list[AttendanceCode], **kwargs: Any) -> None:
        initial = {
            "code": record.code.code,
            "minutes_late": record.minutes_late,
            "remarks": record.remarks,
            "version": record.version,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.codes = {code.code: code for code in codes}
        self.codes.setdefault(record.code.code, record.code)
        self.fields["code"].choices = [(c.code, f"{c.code}  {c.label}") for c in self.codes.values()]  # type: ignore[attr-defined]

    def changes(self) -> dict[str, Any]:
        return {
            "code": self.codes[self.cleaned_data["code"]],
            "minutes_late": self.cleaned_data["minutes_late"],
            "remarks": self.cleaned_data["remarks"].strip(),
        }

    def add_service_errors(self, error: ValidationError) -> None:
        fields = {"code": "code", "minutesLate": "minutes_late", "minutes_late": "minutes_late", "remarks": "remarks"}
        for key, messages in error.message_dict.items():
            for message in messages:
                self.add_error(fields.get(key), message)


class AbsenceReportForm(forms.Form):
    """A parent's report that a child is or was away."""

    student = forms.ModelChoiceField(
        queryset=Student.objects.none(),
        label="Child",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of your children."},
    )
    starts_on = forms.DateField(
        label="First day away", widget=DateInput(), error_messages={"required": "Give the first day away."}
    )
    ends_on = forms.DateField(
        label="Last day away", required=False, widget=DateInput(), help_text="Leave empty for one day."
    )
    sessions = forms.MultipleChoiceField(
        label="Sessions",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one session."},
    )
    reason = forms.ChoiceField(
        label="Reason",
        choices=AbsenceReport.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a reason."},
    )
    details = forms.CharField(
        label="Details for the office",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional. For illness, the symptoms and when your child should be back help the school.",
    )

    def __init__(self, *args: Any, children: QuerySet[Student], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = children  # type: ignore[attr-defined]
        self.fields["sessions"].choices = [(s, _session_label(s)) for s in session_names()]  # type: ignore[attr-defined]
        self.fields["sessions"].initial = session_names()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("starts_on") and not data.get("ends_on"):
            data["ends_on"] = data["starts_on"]
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        for key, messages in error.message_dict.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def _session_label(session: str) -> str:
    return {"AM": "Morning (AM)", "PM": "Afternoon (PM)"}.get(session, session)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=300, label="Note")
