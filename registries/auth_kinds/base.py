"""What an auth kind is: one class that owns a way of logging in to a registry.

A kind says which form fields it needs (and which of them are write-only secrets), checks them,
stores them on the registry, advises on well-known addresses, and turns a stored registry into
the login that is delivered and tested: `login(registry, *, now) -> Login`.

Adding a kind
-------------
1. Write one module, for example `registries/auth_kinds/example.py`::

       class Example(AuthKind):
           value = "Example"              # stored in ContainerRegistry.auth_type (max 32 chars)
           label = "Example Cloud"        # shown on the form's radio and in the table
           caption = "Example Cloud: an API key."
           secret_fields = ("api_key",)   # write-only: never rendered back, kept when left blank

           def form_fields(self):
               return {"api_key": secret_field("API key", max_length=4096)}

           def login(self, registry, *, now):
               return Login("example", registry.secret_values().get("api_key", ""))

   Fields that are not model columns are stored for the kind: non-secret ones in
   `registry.options` (JSON), secret ones in `registry.secrets` (encrypted JSON), unless
   `columns` maps them to a model field. Field names are shared by every kind on the form:
   prefix them (`aws_region`). The form and the admin show them, checked by `clean()`.
2. Add its dotted path to the `REGISTRY_AUTH_KINDS` setting (orgsettings/settings.py).
3. Add a migration for what the kind needs in the database beyond the columns above (a model
   of its own, a data migration). `auth_type`'s choices are a callable reading the setting, so
   a new kind alone changes no column.

The kind's module is the only one that imports the kind's SDK (boto3 for Amazon ECR).

Kinds that obtain their own short-lived logins
----------------------------------------------
- Store a minted login with `registries.services.registry_login_issue(registry, login=Login(
  username, secret, expires_at), state={...})`: it is kept encrypted (`registry.issued()`), its
  expiry in `registry.issued_expires_at`, the kind's bookkeeping (next refresh, failure streak)
  in `registry.kind_state`; the version is bumped so delivery rewrites the Secret, and nothing
  counts as a person's change. `login()` then returns `registry.issued()`.
- `store()` (a save of the form) removes the issued login, since the values it was minted from
  may have changed: override it to keep one that is still valid.
- `login_to_test()` mints a fresh login for Test connection; raise `LoginUnavailable(message)`
  when that fails (the message is shown as is: no secret in it).
- The row: `expiry()` says when the login expires (an `Expiry` with state "ok" is said quietly,
  "soon" and "expired" warn and are counted by the reconciler); `row_notes()` adds lines such as
  the next refresh or a failed one. Both read the registry's own columns only (the table defers
  the secret ones and reads nothing more per row).
- `advice()` warns while the kind is chosen; `advice_for_others()` while another kind is chosen
  for an address this kind serves better ("use Amazon ECR to have it refreshed").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.utils import timezone

from ..encryption import UNREADABLE_MESSAGE
from ..validation import in_sentence, validate_secret

if TYPE_CHECKING:
    from ..models import ContainerRegistry

# Within this many days of its "Expires on" date, a credential's row warns.
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class Expiry:
    """What a row says about when its credential stops working."""

    # "ok" (said quietly: a minted token's lifetime), "soon" (a warning) or "expired"; the
    # reconciler counts the last two.
    state: str
    text: str  # "expires in 5 days", "expired", "token expires in 9 h"


def date_expiry(expires_on: datetime.date | None, *, today: datetime.date) -> Expiry | None:
    """The words for an "Expires on" date: from EXPIRY_WARNING_DAYS before it, and after it."""
    if expires_on is None:
        return None
    days = (expires_on - today).days
    if days < 0:
        return Expiry("expired", "expired")
    if days > EXPIRY_WARNING_DAYS:
        return None
    if days == 0:
        return Expiry("soon", "expires today")
    return Expiry("soon", "expires tomorrow" if days == 1 else f"expires in {days} days")


@dataclass(frozen=True)
class Login:
    """What the kubelet and a connection test send: a username and a secret (a password, or
    a token sent as the password), and when the secret stops working if that is known."""

    username: str
    secret: str
    expires_at: datetime.datetime | None = None

    def __repr__(self) -> str:
        return f"<Login {self.username!r} expires_at={self.expires_at!r}>"


class LoginUnavailable(Exception):
    """A kind could not obtain a login (a refused mint). The message is shown to the user as
    is: it must never hold a secret."""

    def __init__(self, message: str, *, outcome: str = "unauthorized", title: str = "") -> None:
        super().__init__(message)
        self.message = message
        # A connection test's outcome (registries/connection_test/report.py OUTCOMES).
        self.outcome = outcome
        # The test result's headline, when the outcome's own would blame the registry.
        self.title = title


def secret_field(label: str, *, max_length: int, autocomplete: str = "off") -> forms.CharField:
    """A write-only form field: never rendered back, stripped, its length checked in clean()."""
    field = forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": autocomplete}),
    )
    # Checked in clean() with its own message, which never repeats the value.
    field.secret_max_length = max_length
    return field


class AuthKind:
    """The base of every kind; BasicAuth and Token (basic.py, token.py) are the simplest."""

    value: ClassVar[str]
    label: ClassVar[str]
    # One line under the Auth Type radios while this kind is chosen.
    caption: ClassVar[str] = ""
    # The shared Username field: None (not used), "required" or "optional".
    username: ClassVar[str | None] = None
    # Whether the user enters an "Expires on" date (a kind that knows its expiry does not).
    user_expiry: ClassVar[bool] = False
    # Form field names (of form_fields()) that are write-only secrets.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Form field name -> model column, for fields stored in a column of their own.
    columns: ClassVar[dict[str, str]] = {}
    # Said when a required secret is missing.
    missing_secret: ClassVar[str] = "Enter the {label}."

    # --- the form -------------------------------------------------------------------------

    def form_fields(self) -> dict[str, forms.Field]:
        """This kind's own fields, added to the registry form (the Username and "Expires on"
        fields are shared, see `username` and `user_expiry`)."""
        return {}

    def field_names(self) -> list[str]:
        return list(self.form_fields())

    def initial(self, registry: ContainerRegistry) -> dict[str, Any]:
        """The stored non-secret values of this kind's fields, for editing."""
        return {
            name: self.read(registry, name)
            for name in self.field_names()
            if name not in self.secret_fields
        }

    def clean(self, form: forms.Form, *, keeps_stored_secret: bool) -> None:
        """Check this kind's fields in `form.cleaned_data`; report with `form.add_error`.

        `keeps_stored_secret` says whether a blank secret may mean "keep the stored one": the
        registry is saved with this kind already and stays on its host.
        """
        username = form.cleaned_data.get("username", "")
        if self.username == "required" and "username" in form.cleaned_data and not username:
            form.add_error(
                "username",
                forms.ValidationError(f"{self.label} needs a username.", code="required"),
            )
        for name in self.secret_fields:
            self.clean_secret(form, name, required=not keeps_stored_secret)

    def clean_secret(
        self, form: forms.Form, name: str, *, required: bool, allow_json: bool = False
    ) -> None:
        """A secret field: present unless a stored one is kept, of a usable shape otherwise."""
        field = form.fields[name]
        value = form.cleaned_data.get(name, "")
        if not value:
            if required:
                missing = self.missing_secret.format(label=in_sentence(str(field.label)))
                form.add_error(
                    name,
                    forms.ValidationError(missing + form.why_secret_needed(), code="required"),
                )
            return
        try:
            validate_secret(
                value,
                label=str(field.label),
                max_length=field.secret_max_length,
                allow_json=allow_json,
            )
        except forms.ValidationError as error:
            form.add_error(name, error)

    def advice(self, address_key: str, username: str) -> str:
        """A warning while this kind is chosen for the address ("" for none)."""
        return ""

    def advice_for_others(self, address_key: str, username: str) -> str:
        """A warning while another kind is chosen for an address this kind serves better, like
        an Amazon ECR password typed as BasicAuth ("" for none)."""
        return ""

    # --- storage ---------------------------------------------------------------------------

    def read(self, registry: ContainerRegistry, name: str) -> Any:
        if name in self.columns:
            return getattr(registry, self.columns[name])
        if name in self.secret_fields:
            return registry.secret_values().get(name, "")
        return (registry.options or {}).get(name, "")

    def store(self, registry: ContainerRegistry, values: dict[str, Any]) -> None:
        """Write this kind's values onto `registry` (not saved). A secret given as None (or
        left out) keeps the stored one, and so does a non-secret value left out. Every other
        kind's credentials are removed, so a switched-away credential does not linger, and so
        is a login issued for the old values (override to keep one that is still valid)."""
        columns: dict[str, Any] = {}
        options: dict[str, Any] = {}
        secrets: dict[str, str] = {}
        for name in self.field_names():
            value = values.get(name)
            if value is None:
                value = self.read(registry, name)  # may be an unreadable secret: kept as is
            if name in self.columns:
                columns[self.columns[name]] = value
            elif name in self.secret_fields:
                if value:
                    secrets[name] = value
            else:
                options[name] = value
        registry.clear_credentials()
        for column, value in columns.items():
            setattr(registry, column, value)
        registry.options = options
        registry.set_secret_values(secrets)
        if not self.user_expiry:
            registry.expires_on = None

    # --- the login -------------------------------------------------------------------------

    def login(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Login:
        """The login delivered in the organization's Secret."""
        raise NotImplementedError

    def login_to_test(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Login:
        """The login a connection test sends (a kind that mints logins mints a fresh one, and
        raises LoginUnavailable when it cannot)."""
        return self.login(registry, now=now)

    def expires_at(self, registry: ContainerRegistry) -> datetime.datetime | None:
        """When the delivered login stops working, if known."""
        return registry.user_expires_at if self.user_expiry else registry.issued_expires_at

    def expiry(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Expiry | None:
        """What the row says about expiry (None: nothing to say). The default reads the
        "Expires on" date; a kind that issues its own logins says when the issued one expires
        (override it to say more, like when it will be refreshed)."""
        if self.user_expiry:
            return date_expiry(registry.expires_on, today=timezone.localdate(now))
        expires_at = registry.issued_expires_at
        if expires_at is None:
            return None
        left = expires_at - now
        if left <= datetime.timedelta(0):
            return Expiry("expired", "token expired")
        hours = max(1, round(left.total_seconds() / 3600))
        if hours < 48:
            return Expiry("ok", f"token expires in {hours} h")
        return Expiry("ok", f"token expires in {round(hours / 24)} days")

    def row_notes(self, registry: ContainerRegistry, *, now: datetime.datetime) -> list[str]:
        """Extra lines for the registry's row (a refresh schedule, a failed refresh). Read only
        the registry's own columns: the table reads no other row per registry."""
        return []

    def describe_stored(self, registry: ContainerRegistry) -> str:
        """What the admin says about the stored credential, which it never shows."""
        names = [in_sentence(str(self.form_fields()[name].label)) for name in self.secret_fields]
        return f"A {' and '.join(names) or 'credential'} is stored (never shown)."

    def unreadable_problem(self, registry: ContainerRegistry) -> str:
        names = [str(self.form_fields()[name].label) for name in self.secret_fields]
        return f"{' and '.join(names) or 'Credential'} {UNREADABLE_MESSAGE}. Enter it again."
