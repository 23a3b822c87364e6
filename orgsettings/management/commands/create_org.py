"""`create_org <slug> --name NAME [--namespace NS] [--owner USERNAME]`: add an organization."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from orgsettings.audit import audit_source
from orgsettings.models import AuditSource
from orgsettings.services import organization_create


class Command(BaseCommand):
    help = "Create an organization, optionally with an owner."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="URL and label name: lower-case letters, digits, hyphens.")
        parser.add_argument("--name", required=True, help="Display name of the organization.")
        parser.add_argument("--namespace", help="Kubernetes namespace (default: org-<slug>).")
        parser.add_argument("--owner", help="Username of an existing user to make its owner.")

    def handle(
        self, *args, slug: str, name: str, namespace: str | None, owner: str | None, **options
    ) -> None:
        owner_user = None
        if owner:
            # A NUL is no user's name, and PostgreSQL refuses it even in a lookup.
            users = get_user_model().objects
            owner_user = (
                None
                if "\x00" in owner
                else users.filter(**{users.model.USERNAME_FIELD: owner}).first()
            )
            if owner_user is None:
                raise CommandError(f"No user named “{owner}”.")
        try:
            with audit_source(AuditSource.COMMAND_LINE):
                organization = organization_create(
                    slug=slug, name=name, namespace=namespace, owner=owner_user
                )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        self.stdout.write(
            f"Created organization “{organization.name}” ({organization.slug}) "
            f"with namespace {organization.namespace}."
        )


def _describe(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return " ".join(error.messages)
