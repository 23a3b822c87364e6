from __future__ import annotations

from django import forms


class AutoRestartForm(forms.Form):
    """The automatic-restart switch: one button that posts the value it turns it to."""

    auto_restart = forms.BooleanField(required=False)
