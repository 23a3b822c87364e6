"""Organizations (the tenants), who belongs to them with which role, and their audit trail."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

validate_dns_label = RegexValidator(
    DNS_LABEL_RE,
    "Use lower-case letters, digits and hyphens, starting and ending with a letter or digit.",
)


def default_namespace(slug: str) -> str:
    return f"org-{slug}"


class Organization(models.Model):
    name = models.CharField(max_length=100)
    # The slug is a Kubernetes label value and part of the default namespace `org-<slug>`:
    # 40 characters keep both under Kubernetes' 63-character limit.
    slug = models.SlugField(max_length=40, unique=True, validators=[validate_dns_label])
    namespace = models.CharField(
        max_length=63,
        validators=[validate_dns_label],
        help_text="Kubernetes namespace that receives the organization's image-pull Secret.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.namespace:
            self.namespace = default_namespace(self.slug)
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_user")
        ]
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.get_role_display()})"

    @property
    def can_manage_registries(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def can_view_activity(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def can_rename_organization(self) -> bool:
        return self.role == Role.OWNER


class AuditAction(models.TextChoices):
    REGISTRY_CREATED = "registry.created", "Registry added"
    REGISTRY_UPDATED = "registry.updated", "Registry changed"
    REGISTRY_DELETED = "registry.deleted", "Registry deleted"
    MEMBERSHIP_ADDED = "membership.added", "Member added"
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed", "Member's role changed"
    MEMBERSHIP_REMOVED = "membership.removed", "Member removed"
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_UPDATED = "organization.updated", "Organization changed"
    ORGANIZATION_DELETED = "organization.deleted", "Organization deleted"
    # Written by the cluster sync before deliveries were per cluster; kept readable.
    SYNC_FAILED = "sync.failed", "Sync failed"
    SYNC_RECOVERED = "sync.recovered", "Sync recovered"


class AuditEventQuerySet(models.QuerySet):
    # The trail is append-only for the application: no bulk path rewrites or removes it.
    def update(self, **kwargs):
        raise TypeError("Audit events cannot be changed.")

    def delete(self):
        raise TypeError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One change to an organization's registries, members or settings, or a delivery incident.

    Who, what and where are also kept as text, so an event still reads correctly after the
    registry, the user or the organization it names has been deleted. Written only through
    orgsettings.audit.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    organization_slug = models.CharField("organization", max_length=40)
    organization_name = models.CharField("organization name", max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The username at the time, or "system" for the platform's own work (sync, CLI).
    actor_label = models.CharField("actor", max_length=150)
    # One of AuditAction, or a kind an app registered (orgsettings.audit.register_event_kinds).
    action = models.CharField(max_length=40)
    target_type = models.CharField("object type", max_length=40)
    target_id = models.CharField("object ID", max_length=64, blank=True)
    target_label = models.CharField("object", max_length=255)
    # {field: {"old": …, "new": …}} for plain fields; {field: {"secret": "set"|"changed"|"removed"}}
    # for secrets, whose values are never recorded.
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_recent"),
            models.Index(
                fields=["target_type", "target_id", "-created_at"], name="audit_target_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target_label}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events cannot be deleted.")

    def get_action_display(self) -> str:
        from .audit import event_kind_label

        return event_kind_label(self.action)
