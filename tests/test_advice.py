"""The form's advice for well-known registries: the username they expect, and the long-lived
credential that works as BasicAuth where that is not obvious."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registries import advice

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("europe-west1-docker.pkg.dev/project/repo", ["_json_key", "_json_key_base64", "JSON key"]),
        ("gcr.io", ["_json_key", "_json_key_base64"]),
        ("acme.azurecr.io", ["service principal", "application (client) ID", "client secrets"]),
        ("registry.gitlab.com", ["deploy token", "gitlab+deploy-token-", "read_registry"]),
    ],
)
def test_the_hint_names_the_long_lived_route_as_basicauth(
    client, organization, owner, address, words
):
    client.force_login(owner)
    response = client.post(
        reverse("registries:hints", kwargs={"slug": organization.slug}),
        {"address": address, "username": "", "auth_type": "BasicAuth"},
    )
    html = response.content.decode()
    for word in words:
        assert word in html


def test_the_forms_list_names_each_well_known_registry_once():
    starts = [line.split(":")[0] for line in advice.GENERAL_ADVICE]
    assert len(starts) == len(set(starts))
    assert sum("Docker Hub" in line for line in advice.GENERAL_ADVICE) == 1
    assert any("_json_key_base64" in line for line in advice.GENERAL_ADVICE)
    assert any("service principal" in line for line in advice.GENERAL_ADVICE)


def test_an_ecr_password_typed_as_basicauth_is_still_warned_about():
    warning = advice.expiry_warning("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS")
    assert "12 hours" in warning
