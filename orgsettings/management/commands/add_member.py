"""`add_member <slug> <username> --role owner|admin|member`: add or change a membership."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from orgsettings.audit import audit_source
from orgsettings.models import AuditSource, Organization, Role
from orgsettings.services import membership_set


class Command(BaseCommand):
    help = "Add a user to an organization with a role, or change the user's role there."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The organization's slug.")
        parser.add_argument("username", help="An existing user's username.")
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args, slug: str, username: str, role: str, **options) -> None:
        # A NUL is in no slug or username, and PostgreSQL refuses it even in a lookup.
        if "\x00" in slug + username:
            raise CommandError("Slugs and usernames cannot contain NUL characters.")
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug “{slug}”.")
        user = (
            get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        )
        if user is None:
            raise CommandError(f"No user named “{username}”.")
        with audit_source(AuditSource.COMMAND_LINE):
            membership_set(organization, user=user, role=role)
        self.stdout.write(f"{username} is now {role} of {organization.slug}.")
