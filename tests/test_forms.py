"""The registry form's rules, as the Settings page and the admin apply them."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from registries.forms import RegistryForm, RegistryTestForm
from registries.models import AuthType

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def basic(**overrides):
    data = {
        "display_name": "GitHub packages",
        "address": "ghcr.io",
        "auth_type": "BasicAuth",
        "username": "octocat",
        "password": "ghp_abc123",
        "token": "",
    }
    return {**data, **overrides}


def token(**overrides):
    return basic(
        **{"auth_type": "Token", "username": "", "password": "", "token": "glpat-xyz", **overrides}
    )


def test_valid_basic_auth_form_yields_the_normalized_address(organization):
    form = RegistryForm(basic(address="https://GHCR.io/"), organization=organization)
    assert form.is_valid(), form.errors
    assert form.registry_fields()["address"] == "ghcr.io"


def test_display_name_is_required(organization):
    form = RegistryForm(basic(display_name="   "), organization=organization)
    assert not form.is_valid()
    assert "display_name" in form.errors


def test_display_name_is_trimmed_and_inner_spaces_collapsed(organization):
    form = RegistryForm(basic(display_name="  GitHub   packages "), organization=organization)
    assert form.is_valid()
    assert form.cleaned_data["display_name"] == "GitHub packages"


def test_display_name_longer_than_100_characters_is_rejected(organization):
    form = RegistryForm(basic(display_name="x" * 101), organization=organization)
    assert "display_name" in form.errors


def test_display_name_is_unique_within_the_organization_ignoring_case(organization):
    RegistryFactory(organization=organization, display_name="GitHub Packages")
    form = RegistryForm(basic(display_name="github packages"), organization=organization)
    assert "already has a registry with this Display Name" in str(form.errors["display_name"])


def test_same_display_name_is_allowed_in_another_organization(organization):
    RegistryFactory(organization=OrganizationFactory(), display_name="GitHub packages")
    assert RegistryForm(basic(), organization=organization).is_valid()


def test_address_is_unique_within_the_organization_after_normalization(organization):
    RegistryFactory(organization=organization, address="ghcr.io")
    form = RegistryForm(basic(address="https://GHCR.IO/"), organization=organization)
    assert "already has a registry for ghcr.io" in str(form.errors["address"])


def test_invalid_address_error_is_tied_to_the_address_field(organization):
    form = RegistryForm(basic(address="user:pw@ghcr.io"), organization=organization)
    assert "Do not put credentials in the address" in str(form.errors["address"])
    assert form.fields["address"].widget.attrs["aria-invalid"] == "true"


def test_basic_auth_requires_username_and_password(organization):
    form = RegistryForm(basic(username="", password=""), organization=organization)
    assert set(form.errors) == {"username", "password"}


def test_token_requires_a_token_but_no_username(organization):
    assert RegistryForm(token(), organization=organization).is_valid()
    form = RegistryForm(token(token=""), organization=organization)
    assert set(form.errors) == {"token"}


def test_unknown_auth_type_is_rejected(organization):
    form = RegistryForm(basic(auth_type="OAuth"), organization=organization)
    assert "auth_type" in form.errors


def test_token_form_does_not_keep_a_typed_password(organization):
    form = RegistryForm(token(password="leftover"), organization=organization)
    assert form.is_valid()
    assert form.registry_fields()["password"] == ""


def test_password_with_spaces_is_rejected_without_echoing_it(organization):
    form = RegistryForm(basic(password="two words"), organization=organization)
    assert "password" in form.errors
    assert "two words" not in str(form.errors)


def test_gcp_json_key_password_with_spaces_is_accepted(organization):
    json_key = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nx\\n"}'
    form = RegistryForm(
        basic(address="gcr.io", username="_json_key", password=json_key), organization=organization
    )
    assert form.is_valid(), form.errors


def test_edit_with_blank_password_keeps_stored_secret(organization):
    registry = RegistryFactory(
        organization=organization, auth_type=AuthType.BASIC, address="ghcr.io"
    )
    form = RegistryForm(
        basic(password="", version=registry.version), instance=registry, organization=organization
    )
    assert form.is_valid(), form.errors
    assert form.registry_fields()["password"] is None


def test_edit_with_blank_token_keeps_stored_token(organization):
    registry = RegistryFactory(
        organization=organization,
        auth_type=AuthType.TOKEN,
        address="ghcr.io",
        password="",
        token="stored",
    )
    form = RegistryForm(token(token=""), instance=registry, organization=organization)
    assert form.is_valid(), form.errors
    assert form.registry_fields()["token"] is None


@pytest.mark.parametrize(
    "address", ["ghcr.io/acme/app", "https://GHCR.io/other", "http://ghcr.io/acme"]
)
def test_blank_secret_is_kept_while_the_address_stays_on_its_host(organization, address):
    registry = RegistryFactory(organization=organization, address="ghcr.io/acme")
    form = RegistryForm(
        basic(address=address, password=""), instance=registry, organization=organization
    )
    assert form.is_valid(), form.errors
    assert form.registry_fields()["password"] is None


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("ghcr.io/acme", "attacker.example.com/acme"),
        ("registry.example.com:5000", "registry.example.com:5001"),
        ("*.azurecr.io", "acme.azurecr.io"),
    ],
)
@pytest.mark.parametrize("form_class", [RegistryForm, RegistryTestForm])
def test_moving_the_address_to_another_host_needs_the_secret_again(
    organization, stored, typed, form_class
):
    basic_registry = RegistryFactory(organization=organization, address=stored)
    token_registry = RegistryFactory(
        organization=OrganizationFactory(),
        auth_type=AuthType.TOKEN,
        address=stored,
        password="",
        token="t",
    )
    basic_form = form_class(
        basic(address=typed, password=""), instance=basic_registry, organization=organization
    )
    token_form = form_class(
        token(address=typed, token=""),
        instance=token_registry,
        organization=token_registry.organization,
    )
    assert basic_form.errors["password"] == [
        "BasicAuth needs a password. The address now names another host, and a stored "
        "credential is only sent to the host it was saved for: enter it again."
    ]
    assert "enter it again" in token_form.errors["token"][0]
    typed_again = form_class(
        basic(address=typed, password="new-password"),
        instance=basic_registry,
        organization=organization,
    )
    assert "password" not in typed_again.errors


def test_switching_auth_type_requires_the_new_types_credentials(organization):
    registry = RegistryFactory(organization=organization, auth_type=AuthType.BASIC)
    form = RegistryForm(token(token=""), instance=registry, organization=organization)
    assert "Switching the Auth Type needs the new type's credentials" in form.errors["token"][0]


def test_edit_keeps_its_own_address_and_name_without_a_uniqueness_error(organization):
    registry = RegistryFactory(
        organization=organization, display_name="GitHub packages", address="ghcr.io"
    )
    form = RegistryForm(basic(password=""), instance=registry, organization=organization)
    assert form.is_valid(), form.errors


def test_password_widget_never_renders_the_stored_value(organization):
    registry = RegistryFactory(organization=organization, password="s3cr3t-value")
    html = RegistryForm(instance=registry, organization=organization).as_p()
    assert "s3cr3t-value" not in html


def test_edit_form_of_a_plain_http_registry_shows_the_scheme(organization):
    registry = RegistryFactory(
        organization=organization, address="reg.internal.example:5000", plain_http=True
    )
    form = RegistryForm(instance=registry, organization=organization)
    assert form["address"].value() == "http://reg.internal.example:5000"


def test_ecr_address_gets_an_expiry_warning(organization):
    form = RegistryForm(
        basic(address="123456789012.dkr.ecr.eu-west-1.amazonaws.com", username="AWS"),
        organization=organization,
    )
    assert form.is_valid()
    assert "12 hours" in form.expiry_warning


def test_oauth2accesstoken_username_gets_an_expiry_warning(organization):
    form = RegistryForm(
        basic(address="gcr.io", username="oauth2accesstoken"), organization=organization
    )
    assert form.is_valid()
    assert "expires after about an hour" in form.expiry_warning


def test_a_past_expires_on_date_is_accepted_with_a_warning(organization):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    form = RegistryForm(basic(expires_on=yesterday.isoformat()), organization=organization)
    assert form.is_valid(), form.errors
    assert form.registry_fields()["expires_on"] == yesterday
    assert form.past_expiry_warning == "This date is in the past: the row will show it as expired."


def test_a_stored_past_date_kept_on_edit_is_not_warned_again(organization):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    registry = RegistryFactory(organization=organization, address="ghcr.io", expires_on=yesterday)
    form = RegistryForm(
        basic(password="", expires_on=yesterday.isoformat()),
        instance=registry,
        organization=organization,
    )
    assert form.is_valid(), form.errors
    assert form.past_expiry_warning == ""


def test_today_or_a_future_date_gets_no_past_date_warning(organization):
    form = RegistryForm(
        basic(expires_on=timezone.localdate().isoformat()), organization=organization
    )
    assert form.is_valid(), form.errors
    assert form.past_expiry_warning == ""


def test_password_typed_into_the_address_is_not_shown_again(organization):
    form = RegistryForm(
        basic(address="https://octocat:ghp_leak@ghcr.io/team"), organization=organization
    )
    assert not form.is_valid()
    html = str(form["address"])
    assert "ghp_leak" not in html
    assert 'value="https://ghcr.io/team"' in html


def test_password_typed_into_an_address_with_other_mistakes_is_not_shown_again(organization):
    form = RegistryForm(basic(address="octocat:ghp_leak@ghcr.io /team"), organization=organization)
    assert not form.is_valid()
    assert "ghp_leak" not in str(form["address"])
    assert form.errors["address"] == [
        "Do not put credentials in the address; use the Username and Password fields."
    ]


def test_password_with_url_separators_typed_into_the_address_is_not_shown_again(organization):
    form = RegistryForm(
        basic(address="https://bob:Ab3/x?y#z@reg.example.com/team"), organization=organization
    )
    assert not form.is_valid()
    html = str(form["address"])
    assert "Ab3" not in html
    assert 'value="https://reg.example.com/team"' in html


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Git\x00Hub", "Null characters are not allowed."),
        ("\x1b[31mGitHub\x1b[0m", "The name cannot contain control characters."),
        ("Git\x7fHub", "The name cannot contain control characters."),
        ("Git\x9bHub", "The name cannot contain control characters."),
        ("\u202eGitHub", "The name cannot contain control characters."),
    ],
)
def test_display_name_with_control_characters_is_refused(organization, name, message):
    form = RegistryForm(basic(display_name=name), organization=organization)
    assert not form.is_valid()
    assert form.errors["display_name"] == [message]


def test_too_long_display_name_is_refused_with_its_length_not_cut(organization):
    form = RegistryForm(basic(display_name="x" * 120), organization=organization)
    assert not form.is_valid()
    assert form.errors["display_name"] == [
        "Display Names are at most 100 characters; this one has 120."
    ]
    assert "maxlength" not in str(form["display_name"])
    assert 'data-max-chars="100"' in str(form["display_name"])


def test_secret_typed_into_a_form_with_errors_is_marked_for_pasting_again(organization):
    form = RegistryForm(basic(address="bad host"), organization=organization)
    assert not form.is_valid()
    assert form.errors["password"] == ["Paste the password again: it was cleared for your safety."]
    assert "ghp_abc123" not in str(form["password"])


def test_token_typed_into_a_form_with_errors_is_marked_and_the_hidden_password_is_not(
    organization,
):
    form = RegistryForm(token(display_name="", password="leftover"), organization=organization)
    assert not form.is_valid()
    assert "Paste the token again" in form.errors["token"][0]
    assert "password" not in form.errors


def test_blank_secret_on_edit_with_errors_needs_no_pasting_again(organization):
    registry = RegistryFactory(organization=organization)
    data = basic(display_name="", address=registry.address, password="")
    form = RegistryForm(data, instance=registry, organization=organization)
    assert not form.is_valid()
    assert "password" not in form.errors


def test_secret_with_its_own_error_shows_that_error_only(organization):
    form = RegistryForm(basic(password="has space"), organization=organization)
    assert not form.is_valid()
    assert form.errors["password"] == [
        "The password cannot contain spaces or line breaks. Check that it was pasted whole."
    ]
