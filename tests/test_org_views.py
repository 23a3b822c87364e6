"""Landing on an organization, the switcher, and the General section."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgsettings.models import Role

from .factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def general(organization):
    return reverse("settings-general", kwargs={"slug": organization.slug})


def test_login_page_logs_a_user_in_and_lands_on_their_organization(client, organization, owner):
    response = client.post(
        reverse("login"),
        {"username": "olivia", "password": "correct-horse-battery-staple"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("registries:list", kwargs={"slug": "acme"})


def test_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("login"), {"username": "olivia", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


def test_user_without_organization_is_told_what_to_do(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert "You are not in an organization yet" in response.text


def test_home_returns_to_the_organization_used_last(client, organization, owner):
    other = OrganizationFactory(slug="zeta", name="Zeta")
    MembershipFactory(organization=other, user=owner, role=Role.MEMBER)
    client.force_login(owner)
    client.get(general(other))
    assert client.get(reverse("home"))["Location"] == reverse(
        "registries:list", kwargs={"slug": "zeta"}
    )


def test_switcher_lists_every_organization_of_the_user(client, organization, owner):
    other = OrganizationFactory(name="Zeta Corp")
    MembershipFactory(organization=other, user=owner, role=Role.MEMBER)
    client.force_login(owner)
    text = client.get(general(organization)).text
    assert "Zeta Corp" in text
    assert general(other) in text


def test_general_section_shows_slug_and_namespace_read_only(client, organization, org_admin):
    client.force_login(org_admin)
    text = client.get(general(organization)).text
    assert "<code>acme</code>" in text
    assert "<code>org-acme</code>" in text
    assert 'name="name"' not in text


def test_owner_renames_the_organization(client, organization, owner):
    client.force_login(owner)
    response = client.post(general(organization), {"name": "  Acme   Inc "})
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.name == "Acme Inc"


def test_owner_cannot_rename_to_blank(client, organization, owner):
    client.force_login(owner)
    response = client.post(general(organization), {"name": "  "})
    assert "Enter a name." in response.text
    organization.refresh_from_db()
    assert organization.name == "Acme"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Acme\x00", "Null characters are not allowed."),
        ("\x1b[31mAcme\x1b[0m", "The name cannot contain control characters."),
        ("Ac\x7fme", "The name cannot contain control characters."),
        ("\u202eemcA", "The name cannot contain control characters."),
    ],
)
def test_owner_cannot_rename_to_a_name_with_control_characters(
    client, organization, owner, name, message
):
    client.force_login(owner)
    response = client.post(general(organization), {"name": name})
    assert response.status_code == 200
    assert message in response.text
    organization.refresh_from_db()
    assert organization.name == "Acme"


@pytest.mark.parametrize("user_fixture", ["org_admin", "member"])
def test_only_owners_can_rename(client, organization, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.post(general(organization), {"name": "Hijacked"}).status_code == 403
    organization.refresh_from_db()
    assert organization.name == "Acme"


def test_outsider_gets_404_for_the_general_section(client, organization, outsider):
    client.force_login(outsider)
    assert client.get(general(organization)).status_code == 404
    assert client.post(general(organization), {"name": "x"}).status_code == 404


def test_anonymous_user_is_sent_to_log_in_from_the_general_section(client, organization):
    assert client.get(general(organization))["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_pages_send_a_policy_allowing_only_the_apps_own_scripts_and_styles(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    parts = (part.strip().partition(" ") for part in policy.split(";") if part.strip())
    directives = {name: value for name, _, value in parts}
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_htmx_is_told_not_to_inject_its_inline_indicator_style(client):
    assert '"includeIndicatorStyles": false' in client.get("/accounts/login/").text
