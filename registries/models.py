"""A container registry login that an organization stores for its workloads' image pulls."""

from __future__ import annotations

import datetime
import json

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from orgsettings.models import Organization

from .auth_kinds import (
    AuthKind,
    AuthType,
    Expiry,
    Login,
    UnknownAuthKind,
    auth_kind_choices,
    get_auth_kind,
)
from .encryption import (
    EncryptedTextField,
    EncryptionKeyIdField,
    is_unreadable,
    readable_key_ids,
)

__all__ = ["AuthType", "ContainerRegistry"]

# Every column that holds a secret: never listed, searched, filtered or read by the table.
SECRET_COLUMNS = ("password", "token", "secrets", "issued_login")


class ContainerRegistry(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="registries"
    )
    display_name = models.CharField("Display Name", max_length=100)
    # The normalized key the kubelet matches images against: host[:port][/path], no scheme.
    address = models.CharField("Address", max_length=255)
    plain_http = models.BooleanField(
        "Plain HTTP", default=False, help_text="The address was entered with http://."
    )
    # The kinds are configured (REGISTRY_AUTH_KINDS), so the choices are a callable.
    auth_type = models.CharField("Auth Type", max_length=32, choices=auth_kind_choices)
    username = models.CharField("Username", max_length=255, blank=True)
    password = EncryptedTextField("Password", blank=True)
    token = EncryptedTextField("Token", blank=True)
    # When the user says the credential stops working (kinds with `user_expiry`).
    expires_on = models.DateField("Expires on", null=True, blank=True)
    # The date of expires_on that Activity was last warned about (once per registry and date).
    expiry_warned_on = models.DateField(null=True, blank=True, editable=False)
    # A kind's own fields (see registries/auth_kinds/base.py): its non-secret values, its
    # write-only ones (an encrypted JSON object), the login it obtained itself and when that
    # expires, and its bookkeeping (a refresh schedule).
    options = models.JSONField(default=dict, blank=True, editable=False)
    secrets = EncryptedTextField(blank=True, editable=False)
    issued_login = EncryptedTextField(blank=True, editable=False)
    issued_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    kind_state = models.JSONField(default=dict, blank=True, editable=False)
    # Which key wrote the encrypted columns: the list tells an unreadable row by it, decrypting
    # nothing.
    credentials_key_id = EncryptionKeyIdField()

    # Optimistic concurrency: every save bumps it; a save based on an older value is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "container registry"
        verbose_name_plural = "container registries"
        # Operators change registries in the admin only with this permission (or as superusers).
        permissions = [("change_registry_credentials", "Can change registry credentials")]
        ordering = [Lower("display_name")]
        constraints = [
            models.UniqueConstraint(
                Lower("display_name"),
                "organization",
                name="unique_registry_display_name_per_org",
                violation_error_message="This organization already has a registry with this Display Name.",
            ),
            models.UniqueConstraint(
                fields=["organization", "address"],
                name="unique_registry_address_per_org",
                violation_error_message="This organization already has a registry with this Address.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.address})"

    def __repr__(self) -> str:
        return f"<ContainerRegistry {self.pk} {self.address!r}>"

    @property
    def kind(self) -> AuthKind:
        """The auth kind this registry logs in with (UnknownAuthKind when not configured)."""
        return get_auth_kind(self.auth_type)

    def login(self, *, now: datetime.datetime | None = None) -> Login:
        return self.kind.login(self, now=now or timezone.now())

    @property
    def login_username(self) -> str:
        """The username sent to the registry (a token travels as the password of a login)."""
        return self.login().username

    @property
    def login_secret(self) -> str:
        return self.login().secret

    @property
    def expiry(self) -> Expiry | None:
        """What the row says about when the credential stops working (None: nothing)."""
        try:
            return self.kind.expiry(self, now=timezone.now())
        except UnknownAuthKind:
            return None

    @property
    def row_notes(self) -> list[str]:
        """The kind's extra lines for the row (an issued token's refresh, say)."""
        try:
            return self.kind.row_notes(self, now=timezone.now())
        except UnknownAuthKind:
            return []

    @property
    def user_expires_at(self) -> datetime.datetime | None:
        """The end of the "Expires on" day, in the installation's time zone."""
        if self.expires_on is None:
            return None
        day_after = self.expires_on + datetime.timedelta(days=1)
        return datetime.datetime.combine(
            day_after, datetime.time(), timezone.get_default_timezone()
        )

    @property
    def credentials_unreadable(self) -> bool:
        """Whether a stored secret cannot be decrypted with any configured key."""
        return any(is_unreadable(getattr(self, column)) for column in SECRET_COLUMNS)

    @property
    def credentials_problem(self) -> str:
        """What the row says when its stored credential is unreadable ("" when it is fine).

        Told by the key that wrote it, so a list that leaves the secrets unloaded shows it too;
        when they are loaded, by the values themselves as well."""
        deferred = self.get_deferred_fields()
        unreadable = self.credentials_key_id not in readable_key_ids()
        if not unreadable and not deferred & set(SECRET_COLUMNS):
            unreadable = self.credentials_unreadable
        if not unreadable:
            return ""
        return self.kind.unreadable_problem(self)

    @property
    def is_wildcard(self) -> bool:
        """A `*.example.com` address names no host to log in to, so it cannot be tested."""
        return "*" in self.address.partition("/")[0]

    # --- a kind's stored values (see registries/auth_kinds/base.py) ---------------------------

    def secret_values(self) -> dict[str, str]:
        """The kind's write-only values, decrypted ({} when none, or unreadable)."""
        if not self.secrets or is_unreadable(self.secrets):
            return {}
        return json.loads(self.secrets)

    def set_secret_values(self, values: dict[str, str]) -> None:
        self.secrets = json.dumps(values, sort_keys=True) if values else ""

    def issued(self) -> Login | None:
        """The login the kind obtained itself (a minted token), or None."""
        if not self.issued_login or is_unreadable(self.issued_login):
            return None
        data = json.loads(self.issued_login)
        return Login(data["username"], data["secret"], self.issued_expires_at)

    def set_issued_login(self, login: Login | None) -> None:
        if login is None:
            self.issued_login, self.issued_expires_at = "", None
            return
        self.issued_login = json.dumps({"username": login.username, "secret": login.secret})
        self.issued_expires_at = login.expires_at

    def clear_credentials(self) -> None:
        """Remove every kind's stored credentials (the username and expiry date stay)."""
        self.password = self.token = self.secrets = ""
        self.options = {}
        self.set_issued_login(None)
        self.kind_state = {}
