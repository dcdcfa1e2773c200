"""Forms of the notification pages: they parse and check input; services do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Exists, OuterRef

from notifications import services
from notifications.models import AbsenceAlertSettings, Message, NotificationType, Priority
from students.models import ClassGroup, Guardian


class RecipientChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user: Any) -> str:
        name = user.get_full_name() or user.username
        kind = "guardian" if user.is_guardian else "staff"
        return f"{name} ({kind}{', ' + user.email if user.email else ', no e-mail address'})"


class ComposeForm(forms.Form):
    """A message and its audience. Teachers may choose people they reach and their own class groups only."""

    audience = forms.ChoiceField(label="Send to", widget=forms.RadioSelect)
    recipients = RecipientChoiceField(
        label="People",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "You may not message %(value)s, or there is no such person."},
    )
    class_group = forms.ModelChoiceField(
        label="Class group",
        queryset=None,
        required=False,
        empty_label="Choose a class group",
        error_messages={"invalid_choice": "Choose one of your own class groups."},
    )
    year_group = forms.TypedChoiceField(label="Year group", coerce=int, required=False, empty_value=None)
    title = forms.CharField(label="Title", max_length=200)
    body = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    type = forms.ChoiceField(
        label="Type", choices=NotificationType.choices, initial=NotificationType.INFO, widget=forms.RadioSelect
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Priority.choices, initial=Priority.NORMAL, widget=forms.RadioSelect
    )
    # What the sender saw in the preview; a send whose audience or e-mail rules changed since is previewed again.
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        kinds = [Message.Audience.INDIVIDUALS, Message.Audience.CLASS_GROUP]
        if actor.sees_whole_school:
            kinds += [Message.Audience.YEAR_GROUP, Message.Audience.SCHOOL]
            years = (
                ClassGroup.objects.visible_to(actor)
                .order_by("year_group")
                .values_list("year_group", flat=True)
                .distinct()
            )
            self.fields["year_group"].choices = [("", "Choose a year group")] + [(y, f"Year {y}") for y in years]
        else:
            del self.fields["year_group"]  # a teacher reaches their own class groups, never a whole year
        self.fields["audience"].choices = [(kind.value, kind.label) for kind in kinds]
        self.fields["audience"].initial = Message.Audience.CLASS_GROUP
        self.fields["recipients"].queryset = (
            services.reachable_users(actor)
            .annotate(is_guardian=Exists(Guardian.objects.filter(user=OuterRef("pk"))))
            .order_by("last_name", "first_name", "pk")
        )
        self.fields["class_group"].queryset = ClassGroup.objects.visible_to(actor)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("audience")
        if kind == Message.Audience.INDIVIDUALS and not data.get("recipients") and "recipients" not in self.errors:
            self.add_error("recipients", "Choose at least one person.")
        if kind == Message.Audience.CLASS_GROUP and not data.get("class_group") and "class_group" not in self.errors:
            self.add_error("class_group", "Choose a class group.")
        if kind == Message.Audience.YEAR_GROUP and not data.get("year_group") and "year_group" not in self.errors:
            self.add_error("year_group", "Choose a year group.")
        return data

    @property
    def audience_value(self) -> services.Audience:
        data = self.cleaned_data
        kind = data["audience"]
        if kind == Message.Audience.INDIVIDUALS:
            return services.Audience(user_ids=tuple(sorted(user.pk for user in data["recipients"])))
        if kind == Message.Audience.CLASS_GROUP:
            return services.Audience(kind=kind, class_group=data["class_group"])
        if kind == Message.Audience.YEAR_GROUP:
            return services.Audience(kind=kind, year_group=data["year_group"])
        return services.Audience(kind=Message.Audience.SCHOOL)

    @property
    def preview_key(self) -> str:
        """A fingerprint of what decides the recipients and who gets e-mail."""
        audience = self.audience_value
        group = audience.class_group.pk if audience.class_group else ""
        ids = ",".join(map(str, audience.user_ids))
        data = self.cleaned_data
        return f"{audience.kind}|{ids}|{group}|{audience.year_group or ''}|{data['type']}|{data['priority']}"

    @property
    def was_previewed(self) -> bool:
        return self.cleaned_data.get("previewed") == self.preview_key


class PreferenceForm(forms.Form):
    email_types = forms.MultipleChoiceField(
        label="Also send me these by e-mail",
        choices=NotificationType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class AlertTextChecks:
    """Refuse absence alert texts with placeholders the alert cannot fill."""

    def clean_title(self) -> str:
        return _checked_template(self.cleaned_data["title"])  # type: ignore[attr-defined]

    def clean_body(self) -> str:
        return _checked_template(self.cleaned_data["body"])  # type: ignore[attr-defined]


def _checked_template(text: str) -> str:
    if errors := services.alert_template_errors(text):
        raise forms.ValidationError(errors)
    return text


PLACEHOLDER_HELP = "Placeholders: {first_name}, {last_name}, {date}, {class_group}."


class AbsenceAlertSettingsForm(AlertTextChecks, forms.Form):
    enabled = forms.BooleanField(label="Send absence alerts to guardians", required=False)
    title = forms.CharField(label="Title", max_length=200, help_text=PLACEHOLDER_HELP)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 5}), help_text=PLACEHOLDER_HELP)


class AbsenceAlertSettingsAdminForm(AlertTextChecks, forms.ModelForm):
    class Meta:
        model = AbsenceAlertSettings
        fields = ["enabled", "title", "body"]
