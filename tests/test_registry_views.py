"""The Container Registries section as a browser and htmx use it, and who may do what."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orgsettings.models import AuditEvent, Role
from orgsettings.services import membership_set
from registries.auth_kinds import Login
from registries.models import AuthType, ContainerRegistry
from registries.services import registry_delete, registry_update

from .aws import ecr_registry
from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def url(name, organization, registry=None):
    kwargs = {"slug": organization.slug}
    if registry is not None:
        kwargs["pk"] = registry.pk
    return reverse(f"registries:{name}", kwargs=kwargs)


def form_data(**overrides):
    data = {
        "display_name": "GitHub packages",
        "address": "https://ghcr.io/",
        "auth_type": "BasicAuth",
        "username": "octocat",
        "password": "ghp_secretvalue",
        "token": "",
    }
    return {**data, **overrides}


def edit_data(registry, **overrides):
    stored = {
        "display_name": registry.display_name,
        "address": registry.address,
        "auth_type": registry.auth_type,
        "username": registry.username,
        "password": "",
        "version": registry.version,
    }
    return form_data(**{**stored, **overrides})


# Who may see what


def test_anonymous_user_is_sent_to_log_in(client, organization):
    response = client.get(url("list", organization))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["list", "create"])
def test_outsider_gets_404_for_every_organization_url(client, organization, outsider, name):
    client.force_login(outsider)
    assert client.get(url(name, organization)).status_code == 404


@pytest.mark.parametrize("name", ["edit", "delete"])
def test_outsider_gets_404_for_registry_urls_get_and_post(client, organization, outsider, name):
    registry = RegistryFactory(organization=organization)
    client.force_login(outsider)
    assert client.get(url(name, organization, registry)).status_code == 404
    assert client.post(url(name, organization, registry), edit_data(registry)).status_code == 404
    assert ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_guessed_id_of_another_organizations_registry_is_404(client, organization, owner):
    foreign = RegistryFactory(organization=OrganizationFactory())
    client.force_login(owner)
    assert client.get(url("edit", organization, foreign)).status_code == 404
    assert client.post(url("delete", organization, foreign)).status_code == 404
    assert ContainerRegistry.objects.filter(pk=foreign.pk).exists()


def test_unknown_organization_is_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("registries:list", kwargs={"slug": "nope"})).status_code == 404


def test_member_sees_the_list_without_controls(client, organization, member):
    RegistryFactory(organization=organization, display_name="Harbor")
    client.force_login(member)
    response = client.get(url("list", organization))
    assert response.status_code == 200
    assert "Harbor" in response.text
    assert url("create", organization) not in response.text
    assert "/edit/" not in response.text
    assert "/delete/" not in response.text


@pytest.mark.parametrize("method", ["get", "post"])
def test_member_gets_403_on_create_edit_and_delete(client, organization, member, method):
    registry = RegistryFactory(organization=organization)
    client.force_login(member)
    send = getattr(client, method)
    assert send(url("create", organization), form_data()).status_code == 403
    assert send(url("edit", organization, registry), edit_data(registry)).status_code == 403
    assert send(url("delete", organization, registry)).status_code == 403
    assert ContainerRegistry.objects.filter(organization=organization).count() == 1


@pytest.mark.parametrize("user_fixture", ["owner", "org_admin"])
def test_owners_and_admins_see_the_controls(client, organization, request, user_fixture):
    RegistryFactory(organization=organization)
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.get(url("list", organization))
    assert url("create", organization) in response.text
    assert "/edit/" in response.text


# The list


def test_empty_state_explains_registries_and_offers_one_way_to_add_one(client, organization, owner):
    client.force_login(owner)
    response = client.get(url("list", organization))
    assert "No registries yet" in response.text
    assert response.text.count(f'href="{url("create", organization)}"') == 1


def test_table_shows_columns_and_who_changed_it(client, organization, owner):
    RegistryFactory(
        organization=organization,
        display_name="Quay",
        address="quay.io",
        auth_type=AuthType.TOKEN,
        updated_by=owner,
    )
    client.force_login(owner)
    # Addresses come in parts, with line-break opportunities (<wbr>) after their dots.
    text = re.sub(r"</?span>|<wbr>", "", client.get(url("list", organization)).text)
    for expected in (
        "Display Name",
        "Address",
        "Auth Type",
        "Last changed",
        "Status",
        "Quay",
        "quay.io",
        "Token",
        "olivia",
        "Not delivered",
    ):
        assert expected in text


def test_plain_http_registry_is_marked_in_the_table(client, organization, owner):
    RegistryFactory(organization=organization, address="reg.internal.example:5000", plain_http=True)
    client.force_login(owner)
    assert ">HTTP</span>" in client.get(url("list", organization)).text


def test_secrets_never_appear_in_any_page(client, organization, owner):
    registry = RegistryFactory(organization=organization, password="pw-must-not-leak-7731")
    token_registry = RegistryFactory(
        organization=organization,
        auth_type=AuthType.TOKEN,
        password="",
        token="tok-must-not-leak-9942",
    )
    ecr = ecr_registry(organization, aws_secret_access_key="aws-key-must-not-leak-5518")
    ecr.set_issued_login(Login("AWS", "ecr-token-must-not-leak-4471", timezone.now()))
    ecr.save()
    client.force_login(owner)
    pages = [
        client.get(url("list", organization)),
        client.get(url("edit", organization, registry)),
        client.get(url("edit", organization, registry), **HX),
        client.get(url("edit", organization, token_registry)),
        client.get(url("edit", organization, ecr), **HX),
        client.get(url("delete", organization, registry)),
        client.post(url("edit", organization, registry), edit_data(registry, display_name="")),
    ]
    for response in pages:
        assert "pw-must-not-leak-7731" not in response.text
        assert "tok-must-not-leak-9942" not in response.text
        assert "aws-key-must-not-leak-5518" not in response.text
        assert "ecr-token-must-not-leak-4471" not in response.text


def test_htmx_list_request_returns_only_the_table(client, organization, owner):
    client.force_login(owner)
    response = client.get(url("list", organization), **HX)
    assert response.text.lstrip().startswith('<div id="registry-table"')
    assert "<html" not in response.text
    assert "HX-Request" in response["Vary"]


# Create


def test_create_without_javascript_redirects_to_the_list_with_a_message(
    client, organization, owner
):
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(), follow=True)
    assert response.redirect_chain[-1][0] == url("list", organization)
    assert "Added “GitHub packages”." in response.text
    registry = ContainerRegistry.objects.get(organization=organization)
    assert (registry.address, registry.password, registry.created_by) == (
        "ghcr.io",
        "ghp_secretvalue",
        owner,
    )


def test_create_through_htmx_returns_the_new_table_and_closes_the_dialog(
    client, organization, owner
):
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(), **HX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#registry-table"
    assert response["HX-Reswap"] == "outerHTML"
    assert "registries:changed" in response["HX-Trigger"]
    assert "GitHub packages" in response.text
    assert 'id="messages"' in response.text
    assert 'hx-swap-oob="true"' in response.text


def test_adding_a_past_expires_on_date_saves_it_and_warns_in_the_answer(
    client, organization, owner
):
    client.force_login(owner)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = client.post(
        url("create", organization), form_data(expires_on=yesterday.isoformat()), **HX
    )
    assert response["HX-Retarget"] == "#registry-table"
    assert "This date is in the past: the row will show it as expired." in response.text
    assert ContainerRegistry.objects.get(organization=organization).expires_on == yesterday


def test_hints_warn_while_a_past_expires_on_date_is_typed(client, organization, owner):
    client.force_login(owner)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    typed = {"address": "ghcr.io", "auth_type": "BasicAuth", "expires_on": yesterday.isoformat()}
    response = client.post(url("hints", organization), typed, **HX)
    assert "This date is in the past: the row will show it as expired." in response.text
    tomorrow = {**typed, "expires_on": (yesterday + datetime.timedelta(days=2)).isoformat()}
    response = client.post(url("hints", organization), tomorrow, **HX)
    assert "This date is in the past" not in response.text


def test_invalid_create_through_htmx_rerenders_the_form_with_errors_and_saves_nothing(
    client, organization, owner
):
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(address="not a host"), **HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<form id="registry-form"')
    assert "The address cannot contain spaces." in response.text
    assert 'aria-invalid="true"' in response.text
    assert "HX-Retarget" not in response
    assert not ContainerRegistry.objects.exists()


def test_invalid_create_keeps_what_was_typed_except_secrets(client, organization, owner):
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(username="bad user"))
    assert 'value="GitHub packages"' in response.text
    assert "ghp_secretvalue" not in response.text


def test_docker_hub_rewrite_is_reported_after_saving(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        url("create", organization), form_data(address="registry-1.docker.io"), follow=True
    )
    assert "Docker Hub was stored as “docker.io”" in response.text
    assert ContainerRegistry.objects.get().address == "docker.io"


def test_new_form_opens_in_the_dialog_for_htmx_and_as_a_page_without(client, organization, owner):
    client.force_login(owner)
    fragment = client.get(url("create", organization), **HX)
    page = client.get(url("create", organization))
    assert fragment.text.lstrip().startswith('<form id="registry-form"')
    assert "<html" in page.text
    assert 'id="registry-form"' in page.text


def test_form_warns_that_credentials_must_be_long_lived(client, organization, owner):
    client.force_login(owner)
    text = client.get(url("create", organization)).text
    assert "Use long-lived credentials." in text
    assert "Amazon ECR" in text
    assert "oauth2accesstoken" in text


def test_hints_name_the_username_a_well_known_registry_expects(client, organization, owner):
    client.force_login(owner)
    response = client.post(url("hints", organization), {"address": "ghcr.io", "username": ""}, **HX)
    assert "your GitHub user name" in response.text


def test_hints_warn_about_ecr_passwords_expiring(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        url("hints", organization), {"address": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}
    )
    assert "12 hours" in response.text


def test_outsider_gets_404_for_hints(client, organization, outsider):
    client.force_login(outsider)
    assert client.post(url("hints", organization)).status_code == 404


def test_hints_are_never_requested_with_the_address_in_the_url(client, organization, owner):
    client.force_login(owner)
    assert client.get(url("hints", organization), {"address": "u:pw@ghcr.io"}).status_code == 405


def test_member_cannot_fetch_hints(client, organization, member):
    client.force_login(member)
    assert client.post(url("hints", organization)).status_code == 403


# Edit


def test_edit_with_blank_password_keeps_stored_secret(client, organization, owner):
    registry = RegistryFactory(organization=organization, password="keep-me")
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), edit_data(registry, display_name="Renamed")
    )
    assert response.status_code == 302
    registry.refresh_from_db()
    assert (registry.display_name, registry.password, registry.updated_by) == (
        "Renamed",
        "keep-me",
        owner,
    )


def test_edit_with_a_new_password_replaces_it(client, organization, owner):
    registry = RegistryFactory(organization=organization, password="old")
    client.force_login(owner)
    client.post(url("edit", organization, registry), edit_data(registry, password="new-password"))
    registry.refresh_from_db()
    assert registry.password == "new-password"


def test_switching_to_token_without_a_token_is_refused(client, organization, owner):
    registry = RegistryFactory(organization=organization)
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), edit_data(registry, auth_type="Token")
    )
    assert "Token authentication needs a token." in response.text
    registry.refresh_from_db()
    assert registry.auth_type == AuthType.BASIC


def test_second_of_two_concurrent_edits_is_told_someone_else_changed_it(
    client, organization, owner, org_admin
):
    registry = RegistryFactory(organization=organization, display_name="Original")
    opened = edit_data(registry)
    client.force_login(org_admin)
    client.post(url("edit", organization, registry), {**opened, "display_name": "By Adam"})
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), {**opened, "display_name": "By Olivia"}, **HX
    )
    assert "changed by adam since you opened it" in response.text
    registry.refresh_from_db()
    assert registry.display_name == "By Adam"


@pytest.mark.parametrize("version", [None, "", "abc", "\u00b2", "1" * 5000])
def test_edit_without_a_usable_version_is_refused_like_a_stale_one(
    client, organization, owner, org_admin, version
):
    registry = RegistryFactory(organization=organization, display_name="Original")
    registry_update(registry, actor=org_admin, expected_version=1, username="robot-ci")
    data = edit_data(registry, display_name="Scripted")
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    client.force_login(owner)
    response = client.post(url("edit", organization, registry), data, **HX)
    assert response.status_code == 200
    assert "changed by adam since you opened it" in response.text
    registry.refresh_from_db()
    assert registry.display_name == "Original"


def test_edit_form_title_shows_the_stored_name_while_errors_are_shown(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Stored name")
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), edit_data(registry, display_name="", address="x y")
    )
    assert "Edit “Stored name”" in response.text


# Delete


def test_delete_asks_for_confirmation_first(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    client.force_login(owner)
    response = client.get(url("delete", organization, registry))
    assert "Delete “Harbor”?" in response.text
    assert ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_delete_through_htmx_returns_the_table_without_the_row(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    client.force_login(owner)
    response = client.post(url("delete", organization, registry), **HX)
    assert response["HX-Retarget"] == "#registry-table"
    assert "Deleted “Harbor”." in response.text
    assert f'id="registry-{registry.pk}"' not in response.text
    assert not ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_delete_without_javascript_redirects_to_the_list(client, organization, owner):
    registry = RegistryFactory(organization=organization)
    client.force_login(owner)
    response = client.post(url("delete", organization, registry))
    assert response.status_code == 302
    assert response["Location"] == url("list", organization)


def test_member_is_told_why_a_change_is_refused(client, organization, member):
    client.force_login(member)
    response = client.get(url("create", organization))
    assert response.status_code == 403
    assert (
        "Members can view registries but not change them; ask an owner or admin." in response.text
    )


def test_outsider_sees_the_same_not_found_page_as_for_a_missing_organization(
    client, organization, outsider
):
    client.force_login(outsider)
    theirs = client.get(url("list", organization))
    missing = client.get(reverse("registries:list", kwargs={"slug": "no-such-org"}))
    assert theirs.status_code == missing.status_code == 404
    masked_token = re.compile(r'"X-CSRFToken": "[^"]+"|name="csrfmiddlewaretoken" value="[^"]+"')
    assert masked_token.sub("", theirs.text) == masked_token.sub("", missing.text)


# Saves through htmx answer with their row


def test_edit_through_htmx_answers_with_the_changed_row_only(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    other = RegistryFactory(organization=organization, display_name="Quay")
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), edit_data(registry, display_name="Harbor EU"), **HX
    )
    assert response["HX-Retarget"] == f"#registry-{registry.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.text.lstrip().startswith(f'<tbody id="registry-{registry.pk}"')
    assert "Harbor EU" in response.text
    assert f'id="registry-{other.pk}"' not in response.text
    assert "Saved “Harbor EU”." in response.text
    assert 'hx-swap-oob="true"' in response.text


def test_create_through_htmx_answers_with_the_new_row_at_the_top(client, organization, owner):
    existing = RegistryFactory(organization=organization, display_name="Quay")
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(), **HX)
    created = ContainerRegistry.objects.get(display_name="GitHub packages")
    assert response["HX-Retarget"] == "#registry-table thead"
    assert response["HX-Reswap"] == "afterend"
    assert f'<tbody id="registry-{created.pk}"' in response.text
    assert f'id="registry-{existing.pk}"' not in response.text


def test_delete_through_htmx_removes_only_that_row(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    RegistryFactory(organization=organization, display_name="Quay")
    client.force_login(owner)
    response = client.post(url("delete", organization, registry), **HX)
    assert response["HX-Retarget"] == f"#registry-{registry.pk}"
    assert response["HX-Reswap"] == "delete"
    assert "Quay" not in response.text
    assert "Deleted “Harbor”." in response.text


def test_saved_row_comes_back_pending_with_the_poll_that_follows_its_delivery(
    client, organization, owner, cluster
):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    client.force_login(owner)
    response = client.post(
        url("edit", organization, registry), edit_data(registry, display_name="Harbor EU"), **HX
    )
    assert response["HX-Retarget"] == f"#registry-{registry.pk}"
    assert "Harbor EU" in response.text
    assert "Pending" in response.text
    poll = response.text[response.text.index('id="delivery-poll"') :].split(">", 1)[0]
    assert "hx-swap-oob" in poll
    assert "hx-trigger" in poll


def test_save_that_changes_nothing_says_so_and_bumps_nothing(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    client.force_login(owner)
    response = client.post(url("edit", organization, registry), edit_data(registry), **HX)
    assert "No changes to save in “Harbor”." in response.text
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert (stored.version, stored.updated_at, stored.updated_by) == (
        registry.version,
        registry.updated_at,
        None,
    )
    assert not AuditEvent.objects.exists()


def test_edit_form_warns_about_the_stored_address_when_it_opens(client, organization, owner):
    registry = RegistryFactory(
        organization=organization, address="123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    )
    client.force_login(owner)
    response = client.get(url("edit", organization, registry), **HX)
    assert "expires in 12 hours; use Amazon ECR to have it refreshed" in response.text


def test_docker_hub_hint_says_what_will_be_stored_before_saving(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        url("hints", organization), {"address": "index.docker.io", "username": ""}, **HX
    )
    assert "Docker Hub will be stored as “docker.io”" in response.text
    assert "was stored" not in response.text


def test_wildcard_rows_offer_no_test_and_say_why(client, organization, owner):
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    text = client.get(url("list", organization)).text
    assert f'action="{url("test-stored", organization, registry)}"' not in text
    assert "A wildcard address names no single host to log in to" in text


def test_idn_hosts_are_shown_in_unicode_beside_punycode(client, organization, owner):
    RegistryFactory(organization=organization, address="xn--bcher-kva.example")
    client.force_login(owner)
    text = client.get(url("list", organization)).text
    assert "xn--bcher-kva." in text
    assert "bücher.example" in text


def test_a_validation_error_marks_the_password_instead_of_showing_it(client, organization, owner):
    RegistryFactory(organization=organization, display_name="GitHub packages")
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(address="ghcr.io/other"), **HX)
    assert "already has a registry with this Display Name" in response.text
    assert "Paste the password again: it was cleared for your safety." in response.text
    assert "ghp_secretvalue" not in response.text


# Refusals for htmx: words and a status, never a page to swap in


def test_htmx_request_with_an_expired_session_gets_401_words_not_the_login_page(
    client, organization
):
    response = client.post(url("create", organization), form_data(), **HX)
    assert response.status_code == 401
    assert 'data-request-error="401"' in response.text
    assert "Your session expired." in response.text
    assert "<html" not in response.text


def test_htmx_request_of_a_member_gets_403_words_naming_what_the_role_cannot_do(
    client, organization, member
):
    client.force_login(member)
    response = client.post(url("create", organization), form_data(), **HX)
    assert response.status_code == 403
    assert (
        "Members can view registries but not change them; ask an owner or admin." in response.text
    )
    assert "no longer" not in response.text
    assert "<html" not in response.text
    assert not ContainerRegistry.objects.exists()


def test_htmx_request_after_the_role_was_lowered_says_so(client, organization, owner, org_admin):
    membership_set(organization, user=org_admin, role=Role.MEMBER, actor=owner)
    client.force_login(org_admin)
    response = client.post(url("create", organization), form_data(), **HX)
    assert response.status_code == 403
    assert "Your role was changed to Member now: you can no longer change registries." in (
        response.text
    )
    assert "Members can view registries but not change them" in response.text


def test_a_member_testing_a_connection_is_told_members_cannot_test(client, organization, member):
    registry = RegistryFactory(organization=organization)
    client.force_login(member)
    response = client.post(url("test-stored", organization, registry), **HX)
    assert response.status_code == 403
    assert "Members can view registries but not test their connections" in response.text


def test_saving_a_deleted_registry_says_who_deleted_it_and_when(
    client, organization, owner, org_admin
):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    opened, edit_url = edit_data(registry), url("edit", organization, registry)
    registry_delete(registry, actor=org_admin)
    client.force_login(owner)
    response = client.post(edit_url, opened, **HX)
    assert response.status_code == 404
    assert re.search(r"“Harbor” was deleted by adam (just now|\d+.seconds? ago)\.", response.text)
    page = client.get(edit_url)
    assert page.status_code == 404
    assert "“Harbor” was deleted by adam" in page.text


def test_outsider_learns_nothing_about_a_deleted_registry(client, organization, outsider, owner):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    edit_url = url("edit", organization, registry)
    registry_delete(registry, actor=owner)
    client.force_login(outsider)
    response = client.get(edit_url, **HX)
    assert response.status_code == 404
    assert "Harbor" not in response.text
    assert "olivia" not in response.text


def test_htmx_post_with_a_stale_csrf_token_gets_words_not_a_page(organization, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(url("create", organization), form_data(), **HX)
    assert response.status_code == 403
    assert "This page is out of date." in response.text
    assert "<html" not in response.text
    assert not ContainerRegistry.objects.exists()


def test_hints_show_the_punycode_an_idn_host_will_be_stored_as(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        url("hints", organization), {"address": "bücher.example", "username": ""}, **HX
    )
    assert "xn--bcher-kva.example" in response.text
    assert "bücher.example" in response.text


def test_a_form_too_large_to_read_says_so_in_words_and_saves_nothing(
    client, organization, owner, settings
):
    # A paste far past every field's limit never reaches the form: Django refuses the body.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client.force_login(owner)
    fields = {"display_name": "Big", "address": "big.example.com", "auth_type": "BasicAuth"}
    fields |= {"username": "u", "password": "p" * 20_000}

    answer = client.post(url("create", organization), fields, **HX)

    assert answer.status_code == 400
    html = answer.content.decode()
    assert 'data-request-error="400"' in html
    assert "Too much to send." in html
    assert "Nothing was saved." in html
    assert not ContainerRegistry.objects.exists()
    page = client.post(url("create", organization), fields)
    assert page.status_code == 400
    assert "Nothing was saved." in page.content.decode()
