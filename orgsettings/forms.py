from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from .audit import EVENT_KINDS
from .models import AuditEvent, Organization
from .names import normalize_name


class OrganizationNameForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name"]
        error_messages = {"name": {"required": "Enter a name."}}

    def clean_name(self) -> str:
        name = normalize_name(self.cleaned_data["name"])
        if not name:
            raise forms.ValidationError("Enter a name.", code="required")
        return name


class ActivityFilterForm(forms.Form):
    """The Activity section's filters, from its query string. An invalid value is reported and
    that filter is not applied; the others still are."""

    registry = forms.CharField(label="Registry", max_length=255, required=False, strip=True)
    person = forms.ChoiceField(label="Person", required=False)
    action = forms.ChoiceField(label="Kind of event", required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args, people: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Anyone"), *people]
        # Every kind the trail knows, the apps' own included.
        self.fields["action"].choices = [("", "Any event"), *EVENT_KINDS.items()]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return cleaned

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """`events` narrowed by every filter that is set and valid. Days are whole days in the
        current time zone."""
        self.is_valid()
        values = {name: value for name, value in self.cleaned_data.items() if value}
        if "registry" in values:
            events = events.filter(
                target_type="registry", target_label__icontains=values["registry"]
            )
        if "person" in values:
            events = events.filter(actor_label=values["person"])
        if "action" in values:
            events = events.filter(action=values["action"])
        if "since" in values:
            events = events.filter(created_at__gte=_start_of(values["since"]))
        if "until" in values:
            events = events.filter(created_at__lt=_start_of(values["until"] + timedelta(days=1)))
        return events

    @property
    def active(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
