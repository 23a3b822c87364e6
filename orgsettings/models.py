"""Organizations (the tenants) and who belongs to them with which role."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

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
    def can_rename_organization(self) -> bool:
        return self.role == Role.OWNER
