"""Forms of the privacy pages: they parse and check input; the services in privacy.consent and
privacy.services do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from harmony.models import Application
from privacy.models import ConsentDecision, PrivacyRequest, Purpose
from students.models import Guardian, Guardianship, Student

KIND_CHOICES = [
    (PrivacyRequest.Kind.EXPORT, "A copy of the data"),
    (PrivacyRequest.Kind.ERASURE, "Erasure of the data"),
]


class ConsentAnswerForm(forms.Form):
    """A guardian's yes or no, sent by one button on the consent page."""

    agree = forms.ChoiceField(choices=[("yes", "Agree"), ("no", "Do not agree")])

    @property
    def agrees(self) -> bool:
        return self.cleaned_data["agree"] == "yes"


class FamilyRequestForm(forms.Form):
    """A guardian asks for a copy or the erasure of their own data or a child's."""

    kind = forms.ChoiceField(label="What would you like?", choices=KIND_CHOICES, widget=forms.RadioSelect)
    about = forms.ChoiceField(label="Whose data?", widget=forms.RadioSelect)

    def __init__(self, *args: Any, user: Any, children: list[Student], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.children = {str(child.pk): child for child in children}
        me = user.get_full_name() or user.username
        self.fields["about"].choices = [("me", f"Mine ({me})"), *((pk, c.full_name) for pk, c in self.children.items())]

    @property
    def student(self) -> Student | None:
        return self.children.get(self.cleaned_data["about"])


class PaperConsentForm(forms.Form):
    """A consent form a guardian filled in on paper, entered by the school."""

    guardian = forms.ChoiceField(label="Guardian who signed", widget=forms.RadioSelect)
    purpose = forms.ChoiceField(label="Purpose")
    decision = forms.ChoiceField(
        label="Their answer", choices=ConsentDecision.Decision.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, guardians: list[Guardianship], purposes: list[Purpose], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guardians = {str(link.guardian_id): link.guardian for link in guardians}
        self.purposes = {str(purpose.pk): purpose for purpose in purposes}
        self.fields["guardian"].choices = [
            (str(link.guardian_id), f"{link.guardian} ({link.get_relationship_display().lower()})")
            for link in guardians
        ]
        self.fields["purpose"].choices = [("", "Choose a purpose"), *((pk, p.title) for pk, p in self.purposes.items())]

    def chosen(self) -> tuple[Guardian, Purpose]:
        return self.guardians[self.cleaned_data["guardian"]], self.purposes[self.cleaned_data["purpose"]]


class TextPublishForm(forms.Form):
    text = forms.CharField(label="The new text parents are asked to agree to", widget=forms.Textarea(attrs={"rows": 6}))
    requires_reconsent = forms.BooleanField(
        label="Ask every family who agreed before to agree again",
        required=False,
        help_text="Tick this when the change is one parents must agree to (new data, a new partner, a new use).",
    )


class DecisionForm(forms.Form):
    """The privacy officer's decision on a request; a rejection needs a reason the family will read."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(
        label="Reason for rejecting (the family will read it)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("reason", "").strip():
            self.add_error("reason", "Say why the request is rejected: the family will read it.")
        return data

    @property
    def approves(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class StaffRequestForm(forms.Form):
    """Staff open a request on a family's behalf: about a child (roll number) or a guardian (e-mail)."""

    kind = forms.ChoiceField(label="What do they ask for?", choices=KIND_CHOICES, widget=forms.RadioSelect)
    about = forms.ChoiceField(
        label="Whose data?",
        choices=[("child", "A child's"), ("guardian", "A parent's or guardian's own")],
        widget=forms.RadioSelect,
    )
    roll_number = forms.CharField(label="The child's roll number", required=False, max_length=32)
    email = forms.CharField(label="The guardian's e-mail or username", required=False, max_length=254)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.student: Student | None = None
        self.subject_user: Any = None
        if data.get("about") == "child":
            roll = data.get("roll_number", "").strip()
            self.student = Student.objects.live().filter(roll_number__iexact=roll).first() if roll else None
            if self.student is None:
                self.add_error("roll_number", "No child on the roll has this roll number.")
        elif data.get("about") == "guardian":
            name = data.get("email", "").strip()
            guardians = get_user_model().objects.filter(guardian__isnull=False)
            if name:
                self.subject_user = guardians.filter(Q(username__iexact=name) | Q(email__iexact=name)).first()
            if self.subject_user is None:
                self.add_error("email", "No parent or guardian has this e-mail or username.")
        return data


class DisclosureSearchForm(forms.Form):
    application = forms.ModelChoiceField(
        label="Application", queryset=Application.objects.order_by("name"), required=False, empty_label="Any"
    )
    child = forms.CharField(label="Child's name or roll number", required=False, max_length=100)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end of the range comes before its start.")
        return data

    def filters(self) -> dict[str, Any]:
        """The search to run: everything valid, nothing from a field with an error."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "application": data.get("application"),
            "child": data.get("child", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
