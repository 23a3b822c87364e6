from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from orgsettings.models import Role

from .factories import MembershipFactory, OrganizationFactory, UserFactory

# Shared fixtures: the network guard every test runs under (network_guard, connections), the
# fake Kubernetes API server (fake_kube, kubeconfig_path), and the real registry with its
# certificates for the connection tests (htpasswd_registry, pki).
# Property tests: a bounded number of examples in the suite; HYPOTHESIS_PROFILE=fuzz for a long
# one-off search. Examples share a test's database transaction, so each cleans up what it needs.
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
hypothesis_settings.register_profile("suite", max_examples=30, **_PROFILE)
hypothesis_settings.register_profile("fuzz", max_examples=2_000, **_PROFILE)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

pytest_plugins = ["tests.network_guard", "tests.fakekube", "tests.registry_server"]


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
def org_admin(organization):
    return _member(organization, Role.ADMIN, "adam")


@pytest.fixture
def member(organization):
    return _member(organization, Role.MEMBER, "mia")


@pytest.fixture
def outsider():
    """A user of another organization."""
    return MembershipFactory(role=Role.OWNER, user=UserFactory(username="oscar")).user


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--kube-real",
        action="store_true",
        help="Run the cluster tests against the real cluster that KUBECONFIG points at (use a disposable one).",
    )


def pytest_collection_modifyitems(config, items) -> None:
    if config.getoption("--kube-real"):
        return
    skip = pytest.mark.skip(reason="needs a real cluster: run with --kube-real and KUBECONFIG set")
    for item in items:
        if "kube_real" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cluster(request, settings):
    """The cluster the sync tests talk to, with the organization fixture's namespace in it:
    the fake API server, or with --kube-real the real one."""
    if request.config.getoption("--kube-real"):
        from .realkube import RealCluster

        kubeconfig = os.environ.get("ORGSETTINGS_REAL_KUBECONFIG", "")
        if not kubeconfig:
            pytest.fail("--kube-real needs KUBECONFIG pointing at a disposable cluster")
        settings.KUBECONFIG = kubeconfig
        real = RealCluster(kubeconfig)
        real.add_namespace("org-acme")
        yield real
        real.cleanup()
        return
    fake = request.getfixturevalue("fake_kube")
    settings.KUBECONFIG = str(request.getfixturevalue("kubeconfig_path"))
    fake.add_namespace("org-acme")
    yield fake
