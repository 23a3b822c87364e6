"""BasicAuth: a username and a password, sent as they were entered."""

from __future__ import annotations

from django import forms

from ..validation import PASSWORD_MAX_LENGTH
from .base import AuthKind, Login, secret_field

# Google's registries take a service account's JSON key (which has spaces) as the password.
GCP_JSON_KEY_USERNAME = "_json_key"


class BasicAuth(AuthKind):
    value = "BasicAuth"
    label = "BasicAuth"
    caption = "BasicAuth: a username and password."
    username = "required"
    user_expiry = True
    secret_fields = ("password",)
    columns = {"password": "password"}
    missing_secret = "BasicAuth needs a password."

    def form_fields(self) -> dict[str, forms.Field]:
        return {
            "password": secret_field(
                "Password", max_length=PASSWORD_MAX_LENGTH, autocomplete="new-password"
            )
        }

    def clean(self, form: forms.Form, *, keeps_stored_secret: bool) -> None:
        username = form.cleaned_data.get("username", "")
        if "username" in form.cleaned_data and not username:
            form.add_error(
                "username", forms.ValidationError("BasicAuth needs a username.", code="required")
            )
        self.clean_secret(
            form,
            "password",
            required=not keeps_stored_secret,
            allow_json=username == GCP_JSON_KEY_USERNAME,
        )

    def login(self, registry, *, now) -> Login:
        return Login(registry.username, registry.password, registry.user_expires_at)
