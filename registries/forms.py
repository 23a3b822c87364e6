"""The registry form: every rule for what a user may save, for the Settings page and the admin.

Secrets are write-only: the widgets never render a value back, and a blank Password or Token
on edit means "keep the stored one" (passed on as None), as long as the address stays on the
host it was saved for. Otherwise anyone allowed to edit could point the address at a server of
their own and collect a credential that the page never shows them.

A secret typed into a form that comes back with errors is not rendered back either (the page
would then hold it, in the browser's cache and history and within reach of every proxy): the
field is marked among the other errors of the same answer, so that nobody saves again
believing the secret is still in it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from orgsettings.names import normalize_name

from .advice import expiry_warning, past_expiry_warning
from .auth_kinds import AuthKind, UnknownAuthKind, auth_kind_choices, auth_kinds, get_auth_kind
from .auth_kinds.basic import GCP_JSON_KEY_USERNAME
from .encryption import UNREADABLE_MESSAGE
from .models import ContainerRegistry
from .validation import (
    TOKEN_DEFAULT_USERNAME,
    NormalizedAddress,
    in_sentence,
    normalize_address,
    parse_id,
    split_key,
    validate_username,
    without_userinfo,
)

__all__ = ["GCP_JSON_KEY_USERNAME", "RegistryForm", "RegistryTestForm", "changed_message"]
_TOO_LONG = "{} are at most %(limit_value)d characters; this one has %(show_value)d."


class RegistryForm(forms.ModelForm):
    """The fields every registry has, plus each configured auth kind's own (see auth_kinds)."""

    # ISO dates only: what <input type=date> sends, and unambiguous when typed without it.
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD, for example 2027-03-31."},
    )
    # The version the page was opened at (see registry_update). Anything but plain digits is
    # no version at all, refused on saving as a stale one is, never as a field error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = ContainerRegistry
        fields = ["display_name", "address", "auth_type", "username"]
        error_messages = {
            "display_name": {
                "required": "Enter a Display Name.",
                "max_length": _TOO_LONG.format("Display Names"),
            },
            "address": {
                "required": "Enter the registry's address, for example ghcr.io.",
                "max_length": _TOO_LONG.format("Addresses"),
            },
            "username": {"max_length": _TOO_LONG.format("Usernames")},
            "auth_type": {
                "required": "Choose an Auth Type.",
                "invalid_choice": "Choose one of the Auth Types shown.",
            },
        }
        widgets = {
            "auth_type": forms.RadioSelect,
            "address": forms.TextInput(
                attrs={
                    "placeholder": "registry.example.com",
                    "spellcheck": "false",
                    "autocapitalize": "none",
                }
            ),
            "username": forms.TextInput(
                attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
            ),
        }

    def __init__(self, *args: Any, organization=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organization is not None:
            self.instance.organization = organization
        self.stored_auth_type = self.instance.auth_type if self.instance.pk else None
        self.normalized_address: NormalizedAddress | None = None
        self.kinds = auth_kinds()
        for kind in self.kinds:
            self.fields.update(kind.form_fields())
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            # Show what the user typed, scheme included, so an unchanged save keeps plain HTTP.
            if self.instance.plain_http:
                self.initial["address"] = f"http://{self.instance.address}"
            self.initial.setdefault("expires_on", self.instance.expires_on)
            stored_kind = self.stored_kind
            if stored_kind is not None:
                for name, value in stored_kind.initial(self.instance).items():
                    self.initial.setdefault(name, value)
        else:
            self.initial.setdefault("auth_type", self.kinds[0].value)
        self.fields["display_name"].widget.attrs["autocomplete"] = "off"
        # No maxlength: the browser would cut a pasted value short without a word. app.js counts
        # characters against data-max-chars instead, and the server refuses a longer value.
        for name in ("display_name", "address", "username"):
            attrs = self.fields[name].widget.attrs
            attrs.pop("maxlength", None)
            attrs["data-max-chars"] = self.fields[name].max_length
        self.fields[
            "display_name"
        ].help_text = "A name your team recognizes, like “GitHub packages”."
        self.fields["address"].help_text = (
            "Host name, with a port or a path prefix if needed: ghcr.io, "
            "registry.example.com:5000, *.azurecr.io."
        )
        self.fields[
            "username"
        ].help_text = f"Required for BasicAuth. Optional with a token: “{TOKEN_DEFAULT_USERNAME}” is sent when left empty."
        self.fields[
            "expires_on"
        ].help_text = (
            "Optional: when this password or token stops working. The table warns two weeks before."
        )
        keep_hint = "Leave blank to keep the stored {} (for an address on the same host)."
        if self.stored_kind is not None:
            for name in self.stored_kind.secret_fields:
                label = in_sentence(str(self.fields[name].label))
                self.fields[name].help_text = keep_hint.format(label)
        labels = [kind.label for kind in self.kinds]
        either = " or ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
        self.fields["auth_type"].choices = auth_kind_choices()
        self.fields["auth_type"].error_messages["invalid_choice"] = f"Choose {either}."
        self.fields["username"].required = False

    @property
    def stored_kind(self) -> AuthKind | None:
        return _kind_or_none(self.stored_auth_type)

    @property
    def chosen_kind(self) -> AuthKind | None:
        """The kind the submitted Auth Type names (None when it names none)."""
        if hasattr(self, "cleaned_data") and "auth_type" in self.cleaned_data:
            return _kind_or_none(self.cleaned_data["auth_type"])
        return _kind_or_none(self.data.get("auth_type")) if self.is_bound else None

    def kind_groups(self) -> list[dict[str, Any]]:
        """Per kind, for the template: its value, caption and bound secret and other fields."""
        return [
            {
                "kind": kind,
                "number": number,
                "fields": [self[name] for name in kind.field_names()],
            }
            for number, kind in enumerate(self.kinds, start=1)
        ]

    def _shown_for(self, attribute: str) -> str:
        return " ".join(
            str(number)
            for number, kind in enumerate(self.kinds, start=1)
            if getattr(kind, attribute)
        )

    @property
    def username_kinds(self) -> str:
        """The positions (1, 2, …) of the kinds that use Username, for the stylesheet's rules
        that show a field only for its kinds (see .auth-fields in app.css)."""
        return self._shown_for("username")

    @property
    def expiry_kinds(self) -> str:
        """The same for "Expires on"."""
        return self._shown_for("user_expiry")

    def full_clean(self) -> None:
        super().full_clean()
        if self.errors:
            self._mark_cleared_secrets()
        # Tie each error to its input for assistive technology.
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                described_by = [f"{bound.auto_id}_error"]
                if bound.help_text:
                    described_by.insert(0, f"{bound.auto_id}_helptext")
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": " ".join(described_by)}
                )

    def clean_version(self) -> int | None:
        return parse_id(self.cleaned_data["version"])

    def _mark_cleared_secrets(self) -> None:
        """A secret this request carried is not shown again: say so at its field."""
        kind = _kind_or_none(self.data.get("auth_type")) or self.kinds[0]
        for name in kind.secret_fields:
            carried = (self.data.get(name) or "").strip()
            if carried and name not in self.errors:
                label = in_sentence(str(self.fields[name].label))
                self.add_error(
                    name,
                    forms.ValidationError(
                        f"Paste the {label} again: it was cleared for your safety.",
                        code="cleared",
                    ),
                )

    def clean_display_name(self) -> str:
        value = normalize_name(self.cleaned_data["display_name"])
        if not value:
            raise forms.ValidationError("Enter a Display Name.", code="required")
        if self._siblings().filter(display_name__iexact=value).exists():
            raise forms.ValidationError(
                "This organization already has a registry with this Display Name.", code="unique"
            )
        return value

    def clean_address(self) -> str:
        try:
            self.normalized_address = normalize_address(self.cleaned_data["address"])
        except forms.ValidationError as error:
            if error.code == "userinfo":
                # Never show a password typed into the address back in the page.
                self.data = self.data.copy()
                self.data["address"] = without_userinfo(self.cleaned_data["address"])
            raise
        key = self.normalized_address.key
        if self._siblings().filter(address=key).exists():
            raise forms.ValidationError(
                f"This organization already has a registry for {key}.", code="unique"
            )
        return key

    def _siblings(self):
        """The organization's other registries, for the uniqueness rules."""
        return ContainerRegistry.objects.filter(
            organization_id=self.instance.organization_id
        ).exclude(pk=self.instance.pk)

    def clean_username(self) -> str:
        value = self.cleaned_data["username"].strip()
        validate_username(value)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = _kind_or_none(cleaned.get("auth_type"))
        if kind is not None:
            kind.clean(
                self,
                keeps_stored_secret=(
                    self.stored_auth_type == kind.value
                    and not self._leaves_stored_host()
                    and not self.instance.credentials_unreadable
                ),
            )
        if self.normalized_address is not None:
            self.instance.plain_http = self.normalized_address.plain_http
        return cleaned

    def why_secret_needed(self) -> str:
        """Said after "… needs a password." when a stored one would not be kept."""
        if self.stored_auth_type and self.stored_auth_type != self.cleaned_data.get("auth_type"):
            return " Switching the Auth Type needs the new type's credentials."
        if self.instance.pk and self.instance.credentials_unreadable:
            return f" The stored one {UNREADABLE_MESSAGE}: enter it again to replace it."
        if self._leaves_stored_host():
            return (
                " The address now names another host, and a stored credential is only"
                " sent to the host it was saved for: enter it again."
            )
        return ""

    def _leaves_stored_host(self) -> bool:
        """On edit: whether the new address names another host or port than the stored one."""
        if not self.instance.pk or self.normalized_address is None:
            return False
        # The instance still holds the stored address: the form copies its values in later.
        return self.normalized_address.host != split_key(self.instance.address)[0]

    @property
    def error_labels(self) -> list[str]:
        """The labels of the fields with errors, in the form's order, for the summary."""
        return [str(self[name].label) for name in self.fields if name in self.errors]

    @property
    def address_note(self) -> str:
        return self.normalized_address.note if self.normalized_address else ""

    @property
    def expiry_warning(self) -> str:
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return ""
        return expiry_warning(
            self.cleaned_data.get("address", ""),
            self.cleaned_data.get("username", ""),
            kind=self.chosen_kind,
        )

    @property
    def past_expiry_warning(self) -> str:
        """Said on saving an "Expires on" date already gone; a stored one kept as it was is
        not said again (the row shows it)."""
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return ""
        kind = self.chosen_kind
        expires_on = self.cleaned_data.get("expires_on")
        if kind is None or not kind.user_expiry:
            return ""
        if self.instance.pk and expires_on == self.instance.expires_on:
            return ""
        return past_expiry_warning(expires_on, today=timezone.localdate())

    def registry_fields(self) -> dict[str, Any]:
        """The validated values for registry_create/registry_update; None secrets mean keep.

        Every other kind's fields come as "": what a switched-away kind stored is removed.
        """
        data = self.cleaned_data
        kind = get_auth_kind(data["auth_type"])
        values: dict[str, Any] = {
            name: "" for other in self.kinds if other is not kind for name in other.field_names()
        }
        for name in kind.field_names():
            value = data.get(name)
            values[name] = (value or None) if name in kind.secret_fields else value
        return {
            "display_name": data["display_name"],
            "address": data["address"],
            "plain_http": self.normalized_address.plain_http,
            "auth_type": kind.value,
            "username": data["username"] if kind.username else "",
            "expires_on": data.get("expires_on") if kind.user_expiry else None,
            **values,
        }


def _kind_or_none(value: object) -> AuthKind | None:
    if not isinstance(value, str):
        return None
    try:
        return get_auth_kind(value)
    except UnknownAuthKind:
        return None


def changed_message(current: ContainerRegistry | None) -> str:
    """Why an edit was not saved: someone else saved or deleted the registry since it was
    opened (or the edit did not say which version it was based on)."""
    if current is None:
        return "This registry was deleted by someone else while you were editing it."
    who = current.updated_by.get_username() if current.updated_by else "someone else"
    return (
        f"This registry was changed by {who} since you opened it. Your changes were not saved: "
        "reload to see the current values, then make your change again."
    )


class RegistryTestForm(RegistryForm):
    """The registry form's rules for what a connection test uses.

    Address, Auth Type, username and secrets are checked exactly as for saving. The Display Name
    and the uniqueness rules matter only for saving, so a registry can be tested before it is
    named, or while another registry of the organization has the same address.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["display_name"].required = False

    def clean_display_name(self) -> str:
        return normalize_name(self.cleaned_data["display_name"])

    def _siblings(self):
        return ContainerRegistry.objects.none()

    def validate_unique(self) -> None:
        pass

    def registry_to_test(self) -> ContainerRegistry:
        """An unsaved registry with the typed values; a blank secret means the stored one."""
        fields = self.registry_fields()
        stored = self.instance  # the registry being edited, or a new one without secrets
        registry = ContainerRegistry(
            organization=stored.organization,
            address=fields.pop("address"),
            plain_http=fields.pop("plain_http"),
            auth_type=fields.pop("auth_type"),
            username=fields.pop("username"),
            expires_on=fields.pop("expires_on"),
        )
        fields.pop("display_name")
        # The stored credentials, for the secrets left blank (the kind reads them from there).
        for column in ("password", "token", "secrets", "issued_login"):
            setattr(registry, column, getattr(stored, column))
        registry.options, registry.issued_expires_at = stored.options, stored.issued_expires_at
        registry.kind_state = stored.kind_state
        registry.kind.store(registry, fields)
        return registry
