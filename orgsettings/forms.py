from __future__ import annotations

from django import forms

from .models import Organization
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
