from __future__ import annotations

import pytest

from orgsettings.models import Role

from .factories import MembershipFactory, OrganizationFactory, UserFactory

# The fake Kubernetes API server's fixtures: fake_kube, kubeconfig_path.
pytest_plugins = ["tests.fakekube"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def organization():
    return OrganizationFactory(slug="acme", name="Acme")


def _member(organization, role: str, username: str):
    return MembershipFactory(
        organization=organization, role=role, user=UserFactory(username=username)
    ).user


@pytest.fixture
def owner(organization):
    return _member(organization, Role.OWNER, "olivia")


@pytest.fixture
def admin_user(organization):
    return _member(organization, Role.ADMIN, "adam")


@pytest.fixture
def member(organization):
    return _member(organization, Role.MEMBER, "mia")


@pytest.fixture
def outsider():
    """A user of another organization."""
    return MembershipFactory(role=Role.OWNER, user=UserFactory(username="oscar")).user
