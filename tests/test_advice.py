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


def _hints(client, organization, owner, **fields):
    client.force_login(owner)
    return client.post(
        reverse("registries:hints", kwargs={"slug": organization.slug}), fields
    ).content.decode()


def test_choosing_amazon_ecr_for_an_ecr_address_warns_about_no_expiring_password(
    client, organization, owner
):
    # The kind that mints and refreshes its tokens is the answer to the warning, not its target.
    address = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    html = _hints(client, organization, owner, address=address, username="", auth_type="ECR")
    assert "12 hours" not in html
    assert "does not refresh" not in html
    basic = _hints(
        client, organization, owner, address=address, username="AWS", auth_type="BasicAuth"
    )
    assert "use Amazon ECR to have it refreshed" in basic


def test_the_long_lived_notice_is_for_the_kinds_stored_as_given(client, organization, owner):
    client.force_login(owner)
    html = client.get(
        reverse("registries:create", kwargs={"slug": organization.slug})
    ).content.decode()
    notice = html.split("Use long-lived credentials.")[0].rsplit("<div", 2)
    # The notice sits in a block shown for BasicAuth and Token (positions 1 and 2), not Amazon ECR.
    assert 'class="auth-fields" data-kinds="1 2"' in "".join(notice[-2:])


def test_adding_an_amazon_ecr_registry_says_added_without_the_password_warning(
    client, organization, owner
):
    client.force_login(owner)
    answer = client.post(
        reverse("registries:create", kwargs={"slug": organization.slug}),
        {
            "display_name": "Production ECR",
            "address": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "auth_type": "ECR",
            "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "version": "",
        },
        follow=True,
    )
    said = [str(message) for message in answer.context["messages"]]
    assert said == ["Added “Production ECR”."]
