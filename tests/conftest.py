from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from orgsettings.models import Role

from .factories import MembershipFactory, OrganizationFactory, UserFactory

# Shared fixtures: the network guard every test runs under (network_guard, connections), the
# fake Kubernetes API server (fake_kube, kubeconfig_path), and the real registry with its
# certificates for the connection tests (htpasswd_registry, pki), and moto's AWS (aws).
# Property tests: a bounded number of examples in the suite; HYPOTHESIS_PROFILE=fuzz for a long
# one-off search. Examples share a test's database transaction, so each cleans up what it needs.
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
hypothesis_settings.register_profile("suite", max_examples=30, **_PROFILE)
hypothesis_settings.register_profile("fuzz", max_examples=2_000, **_PROFILE)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

pytest_plugins = ["tests.network_guard", "tests.fakekube", "tests.registry_server", "tests.aws"]


@pytest.fixture(autouse=True)
def fresh_cluster_clients():
    """API clients are cached per cluster row; ids are reused between tests."""
    yield
    if "delivery.kube" in sys.modules:
        sys.modules["delivery.kube"].forget_clients()


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
def cluster(request, settings, tmp_path):
    """The cluster the delivery tests talk to, with the organization fixture's namespace in it,
    recorded as the default Cluster with every existing organization placed on it: the fake API
    server, or with --kube-real the real one (through KUBECONFIG, the environment's cluster)."""
    from delivery import kube

    from .deliveries import add_fake_cluster

    kube.forget_clients()
    if request.config.getoption("--kube-real"):
        from delivery.services import environment_cluster_adopt

        from .realkube import RealCluster

        kubeconfig = os.environ.get("ORGSETTINGS_REAL_KUBECONFIG", "")
        if not kubeconfig:
            pytest.fail("--kube-real needs KUBECONFIG pointing at a disposable cluster")
        settings.KUBECONFIG = kubeconfig
        real = RealCluster(kubeconfig)
        real.add_namespace("org-acme")
        real.row = environment_cluster_adopt()
        yield real
        real.cleanup()
        kube.forget_clients()
        return
    fake = request.getfixturevalue("fake_kube")
    fake.add_namespace("org-acme")
    fake.row = add_fake_cluster(fake, tmp_path)
    yield fake
    kube.forget_clients()
