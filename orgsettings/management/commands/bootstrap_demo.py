"""`bootstrap_demo`: on an empty database, a demo organization and its owner to log in with.

Prints the login once; does nothing when any user exists, so it is safe on every start.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from orgsettings.audit import audit_source
from orgsettings.models import AuditSource
from orgsettings.services import organization_create


class Command(BaseCommand):
    help = "Create a demo organization with an owner when the database has no users."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        with transaction.atomic(), audit_source(AuditSource.COMMAND_LINE):
            if User.objects.exists():
                return
            password = secrets.token_urlsafe(12)
            owner = User.objects.create_user(
                username="demo", password=password, is_staff=True, is_superuser=True
            )
            organization_create(slug="demo", name="Demo Organization", owner=owner)
        # `make run` and `make serve` listen on PORT (8000 unless set).
        port = os.environ.get("PORT", "8000")
        self.stdout.write(
            f"Created the demo organization and its owner. Log in at http://127.0.0.1:{port}/ with:"
        )
        self.stdout.write(f"Username: {owner.get_username()}")
        self.stdout.write(f"Password: {password}")
