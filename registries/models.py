"""A container registry login that an organization stores for its workloads' image pulls."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from orgsettings.models import Organization

from .encryption import (
    UNREADABLE_MESSAGE,
    EncryptedTextField,
    EncryptionKeyIdField,
    is_unreadable,
    readable_key_ids,
)
from .validation import TOKEN_DEFAULT_USERNAME


class AuthType(models.TextChoices):
    BASIC = "BasicAuth", "BasicAuth"
    TOKEN = "Token", "Token"


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
    auth_type = models.CharField("Auth Type", max_length=10, choices=AuthType.choices)
    username = models.CharField("Username", max_length=255, blank=True)
    password = EncryptedTextField("Password", blank=True)
    token = EncryptedTextField("Token", blank=True)
    # Which key wrote the two above: the list tells an unreadable row by it, decrypting nothing.
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
    def login_username(self) -> str:
        """The username sent to the registry (a token travels as the password of a login)."""
        if self.auth_type == AuthType.TOKEN:
            return self.username or TOKEN_DEFAULT_USERNAME
        return self.username

    @property
    def credentials_unreadable(self) -> bool:
        """Whether the stored password or token cannot be decrypted with any configured key."""
        return is_unreadable(self.password) or is_unreadable(self.token)

    @property
    def credentials_problem(self) -> str:
        """What the row says when its stored credential is unreadable ("" when it is fine).

        Told by the key that wrote it, so a list that leaves the secrets unloaded shows it too;
        when they are loaded, by the values themselves as well."""
        deferred = self.get_deferred_fields()
        unreadable = self.credentials_key_id not in readable_key_ids()
        if not unreadable and not deferred & {"password", "token"}:
            unreadable = self.credentials_unreadable
        if not unreadable:
            return ""
        secret = "Token" if self.auth_type == AuthType.TOKEN else "Password"
        return f"{secret} {UNREADABLE_MESSAGE}. Enter it again."

    @property
    def is_wildcard(self) -> bool:
        """A `*.example.com` address names no host to log in to, so it cannot be tested."""
        return "*" in self.address.partition("/")[0]

    @property
    def login_secret(self) -> str:
        return self.token if self.auth_type == AuthType.TOKEN else self.password
