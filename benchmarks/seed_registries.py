"""Fill a development database with one organization of many registries, to try the Settings
page with real amounts of data:

    DEBUG=true DATABASE_URL=... .venv/bin/python benchmarks/seed_registries.py [COUNT]

Creates (or reuses) the organization `big` with an owner `big-owner`, a member `big-member` and
an outsider `big-outsider` (another organization's owner), all with the password printed at the
end, and tops `big` up to COUNT registries (default 1,000) of mixed types, states and ages.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgsettings.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from orgsettings.models import Membership, Organization, Role  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402

HOSTS = ["ghcr.io", "registry.gitlab.com", "quay.io", "harbor.example.com:8443", "docker.io"]


def main(count: int) -> None:
    password = secrets.token_urlsafe(12)
    User = get_user_model()
    people = {}
    for username in ("big-owner", "big-member", "big-outsider"):
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
        people[username] = user
    big, _ = Organization.objects.get_or_create(slug="big", defaults={"name": "Big Company"})
    other, _ = Organization.objects.get_or_create(slug="other", defaults={"name": "Other"})
    for user, organization, role in [
        (people["big-owner"], big, Role.OWNER),
        (people["big-member"], big, Role.MEMBER),
        (people["big-outsider"], other, Role.OWNER),
    ]:
        Membership.objects.get_or_create(
            user=user, organization=organization, defaults={"role": role}
        )
    have = big.registries.count()
    now = timezone.now()
    registries = [
        ContainerRegistry(
            organization=big,
            display_name=f"Team {index:04d} images",
            address=f"{HOSTS[index % len(HOSTS)]}/team-{index:04d}",
            auth_type=AuthType.TOKEN if index % 3 == 0 else AuthType.BASIC,
            username=f"robot-{index:04d}",
            password="" if index % 3 == 0 else f"seed-password-{index:04d}",
            token=f"seed-token-{index:04d}" if index % 3 == 0 else "",
            updated_by=people["big-owner"],
        )
        for index in range(have, count)
    ]
    ContainerRegistry.objects.bulk_create(registries)
    for offset, registry in enumerate(big.registries.order_by("pk")):
        # Different ages, so that sorting by Last changed means something.
        age = datetime.timedelta(hours=offset % 500)
        ContainerRegistry.objects.filter(pk=registry.pk).update(updated_at=now - age)
    print(f"{big.registries.count()} registries in “{big.name}” (/orgs/big/settings/registries/).")
    print(f"Users big-owner, big-member and big-outsider; password: {password}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
