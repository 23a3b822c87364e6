from __future__ import annotations

import pytest

from registries.services import registry_create

from .deliveries import queued, run_tasks

pytestmark = pytest.mark.django_db


def test_smoke(cluster, organization):
    assert len(queued()) == 1
    registry_create(organization, actor=None, display_name="G", address="ghcr.io", auth_type="BasicAuth", username="u", password="p")
    assert len(queued()) == 1
    assert run_tasks() == 1
    assert cluster.get_object("secrets", "org-acme", "org-registry-credentials") is not None
    t = organization.delivery_targets.get()
    assert t.status == "synced", t.error
