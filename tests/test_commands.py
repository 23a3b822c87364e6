"""The operator CLI: create_org, add_member and the demo bootstrap of `make run`."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from orgsettings.models import Membership, Organization, Role

from .factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_org_defaults_the_namespace_to_org_slug():
    output = run("create_org", "acme", "--name", "Acme Inc")
    organization = Organization.objects.get(slug="acme")
    assert (organization.name, organization.namespace) == ("Acme Inc", "org-acme")
    assert "org-acme" in output


def test_create_org_with_namespace_and_owner():
    UserFactory(username="olivia")
    run("create_org", "acme", "--name", "Acme", "--namespace", "team-acme", "--owner", "olivia")
    membership = Membership.objects.get(organization__slug="acme")
    assert (membership.user.username, membership.role, membership.organization.namespace) == (
        "olivia",
        Role.OWNER,
        "team-acme",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Slug", "--name", "X"], "slug"),
        (["acme", "--name", "X", "--namespace", "Not Valid"], "namespace"),
        (["acme", "--name", "X", "--owner", "ghost"], "No user named “ghost”"),
    ],
)
def test_create_org_fails_clearly_on_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run("create_org", *args)
    assert not Organization.objects.exists()


def test_create_org_cleans_the_name_as_the_settings_form_does():
    run("create_org", "acme", "--name", "\t Acme \t  Inc\n")
    assert Organization.objects.get(slug="acme").name == "Acme Inc"


@pytest.mark.parametrize(
    "name", ["Acme\x00", "\x1b[31mAcme\x1b[0m", "Ac\x7fme", "\u202eemcA", "\t"]
)
def test_create_org_refuses_names_the_settings_form_refuses(name):
    with pytest.raises(CommandError, match="name: "):
        run("create_org", "acme", "--name", name)
    assert not Organization.objects.exists()


def test_create_org_with_a_nul_in_the_owner_name_says_no_such_user():
    with pytest.raises(CommandError, match="No user named"):
        run("create_org", "acme", "--name", "Acme", "--owner", "oli\x00via")
    assert not Organization.objects.exists()


def test_create_org_refuses_a_taken_slug():
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError, match="slug"):
        run("create_org", "acme", "--name", "Again")


def test_create_org_exits_non_zero_from_the_shell():
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "create_org", "Bad Slug", "--name", "x"])
    assert exited.value.code != 0


def test_add_member_adds_and_then_changes_the_role():
    OrganizationFactory(slug="acme")
    UserFactory(username="mia")
    run("add_member", "acme", "mia", "--role", "member")
    run("add_member", "acme", "mia", "--role", "admin")
    assert Membership.objects.get(user__username="mia").role == Role.ADMIN


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "mia", "--role", "member"], "No organization"),
        (["acme", "ghost", "--role", "member"], "No user"),
    ],
)
def test_add_member_fails_clearly_on_unknown_names(args, message):
    OrganizationFactory(slug="acme")
    UserFactory(username="mia")
    with pytest.raises(CommandError, match=message):
        run("add_member", *args)


def test_add_member_rejects_an_unknown_role():
    OrganizationFactory(slug="acme")
    UserFactory(username="mia")
    with pytest.raises(CommandError, match="invalid choice"):
        run("add_member", "acme", "mia", "--role", "boss")


def test_bootstrap_demo_on_an_empty_database_prints_a_working_login(client):
    output = run("bootstrap_demo")
    lines = dict(
        line.split(": ", 1)
        for line in output.splitlines()
        if line.startswith(("Username: ", "Password: "))
    )
    # Through the login page, as a person would (the login throttle needs the request).
    credentials = {"username": lines["Username"], "password": lines["Password"]}
    assert client.post("/accounts/login/", credentials).status_code == 302
    assert "_auth_user_id" in client.session
    assert Membership.objects.get(user__username=lines["Username"]).role == Role.OWNER


def test_bootstrap_demo_does_nothing_when_users_exist():
    UserFactory()
    assert run("bootstrap_demo") == ""
    assert not Organization.objects.exists()
    assert get_user_model().objects.count() == 1
