"""Token: an access token sent as the password of a login; the username is optional."""

from __future__ import annotations

from django import forms

from ..validation import TOKEN_DEFAULT_USERNAME, TOKEN_MAX_LENGTH
from .base import AuthKind, Login, secret_field


class Token(AuthKind):
    value = "Token"
    label = "Token"
    caption = "Token: a long-lived access token; the username is optional."
    username = "optional"
    user_expiry = True
    secret_fields = ("token",)
    columns = {"token": "token"}
    missing_secret = "Token authentication needs a token."

    def form_fields(self) -> dict[str, forms.Field]:
        return {"token": secret_field("Token", max_length=TOKEN_MAX_LENGTH)}

    def login(self, registry, *, now) -> Login:
        # Most token-based registries ignore the username, but a login needs one.
        return Login(
            registry.username or TOKEN_DEFAULT_USERNAME, registry.token, registry.user_expires_at
        )
