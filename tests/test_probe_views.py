"""Test connection on the Settings page: who may test, what is tested, and what the page shows.

The tests that log in do so against the real registry of tests/registry_server.py, which
listens on loopback: the operator's allow-list and CA bundle are set to let the test reach it,
as an operator would for an on-premises registry. A guard refuses any other connection.
"""

from __future__ import annotations

import logging
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from registries import connection_test
from registries.connection_test import OUTCOMES, ProbeResult
from registries.models import AuthType

from .factories import OrganizationFactory, RegistryFactory
from .registry_server import PASSWORD, USERNAME

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("connections")]

HX = {"HTTP_HX_REQUEST": "true"}
WRONG_PASSWORD = "wrong-password-must-not-leak-5521"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.fixture
def probe_calls(monkeypatch) -> list[dict]:
    """What each test asked the engine (it still runs): proves when nothing was tested."""
    calls: list[dict] = []
    real = connection_test.probe_registry

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(connection_test, "probe_registry", spy)
    return calls


def probe_url(organization, registry=None):
    if registry is None:
        return reverse("registries:test", kwargs={"slug": organization.slug})
    return reverse("registries:test-stored", kwargs={"slug": organization.slug, "pk": registry.pk})


def form_data(address, **overrides):
    data = {
        "display_name": "Our registry",
        "address": address,
        "auth_type": "BasicAuth",
        "username": USERNAME,
        "password": PASSWORD,
        "token": "",
    }
    return {**data, **overrides}


def outcome(response) -> str:
    found = re.findall(r'data-outcome="([a-z-]+)"', response.text)
    assert len(found) == 1, response.text
    assert found[0] in OUTCOMES
    return found[0]


# Who may test


def test_anonymous_user_is_sent_to_log_in(client, organization, probe_calls):
    registry = RegistryFactory(organization=organization)
    for target in (probe_url(organization), probe_url(organization, registry)):
        response = client.post(target, form_data("ghcr.io"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert probe_calls == []


def test_member_gets_403_on_both_test_urls(client, organization, member, probe_calls):
    registry = RegistryFactory(organization=organization)
    client.force_login(member)
    assert client.post(probe_url(organization), form_data("ghcr.io")).status_code == 403
    assert client.post(probe_url(organization, registry)).status_code == 403
    assert probe_calls == []


def test_outsider_gets_404_on_both_test_urls(client, organization, outsider, probe_calls):
    registry = RegistryFactory(organization=organization)
    client.force_login(outsider)
    assert client.post(probe_url(organization), form_data("ghcr.io")).status_code == 404
    assert client.post(probe_url(organization, registry)).status_code == 404
    assert probe_calls == []


def test_another_organizations_registry_id_in_the_form_is_404(
    client, organization, owner, probe_calls
):
    # A blank password would mean "the stored one" of that registry: it must not be usable.
    foreign = RegistryFactory(organization=OrganizationFactory(), address="ghcr.io")
    client.force_login(owner)
    data = form_data("ghcr.io", id=foreign.pk, password="")
    assert client.post(probe_url(organization), data, **HX).status_code == 404
    assert client.post(probe_url(organization, foreign), **HX).status_code == 404
    assert probe_calls == []


def test_registry_id_that_is_not_a_number_is_404(client, organization, owner):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("ghcr.io", id="1 or 1=1"), **HX)
    assert response.status_code == 404


def _digits_from(zero: int) -> dict[int, int]:
    """A translation of ASCII digits to the digits of another script starting at `zero`."""
    return {ord("0") + n: zero + n for n in range(10)}


@pytest.mark.parametrize(
    "spelling",
    [
        "\u00b2",  # a superscript two: isdigit() says yes, int() raises
        "1" * 5000,  # past the length int() converts
        "ARABIC",  # the registry's own id in Arabic-Indic digits
        "WIDE",  # and in full-width digits
    ],
)
def test_registry_id_in_other_digits_or_too_long_is_404(
    client, organization, owner, probe_calls, spelling
):
    registry = RegistryFactory(organization=organization, address="ghcr.io")
    arabic = str(registry.pk).translate(_digits_from(0x0660))
    wide = str(registry.pk).translate(_digits_from(0xFF10))
    raw = {"ARABIC": arabic, "WIDE": wide}.get(spelling, spelling)
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("ghcr.io", id=raw, password=""), **HX)
    assert response.status_code == 404
    assert probe_calls == []


@pytest.mark.parametrize("user_fixture", ["owner", "org_admin"])
def test_owners_and_admins_can_test(client, organization, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.post(probe_url(organization), form_data("*.azurecr.io"), **HX)
    assert response.status_code == 200
    assert outcome(response) == "untestable"


def test_tests_only_answer_post(client, organization, owner):
    registry = RegistryFactory(organization=organization)
    client.force_login(owner)
    assert client.get(probe_url(organization)).status_code == 405
    assert client.get(probe_url(organization, registry)).status_code == 405


def test_members_see_no_test_buttons(client, organization, member):
    RegistryFactory(organization=organization)
    client.force_login(member)
    response = client.get(reverse("registries:list", kwargs={"slug": organization.slug}))
    assert "/test/" not in response.text


# Testing what is typed in the form


def test_good_credentials_are_ok_and_say_which_login_was_used(
    client, organization, owner, local_registry
):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data(local_registry), **HX)
    assert response.status_code == 200
    assert outcome(response) == "ok"
    assert "Connection works" in response.text
    assert f"Logged in to {local_registry}" in response.text
    assert "Login: Basic" in response.text
    assert "<form" not in response.text  # only the result, into the form's result slot


def test_wrong_password_is_unauthorized(client, organization, owner, local_registry):
    client.force_login(owner)
    data = form_data(local_registry, password=WRONG_PASSWORD)
    response = client.post(probe_url(organization), data, **HX)
    assert outcome(response) == "unauthorized"
    assert "Credentials rejected" in response.text
    assert "rejected these credentials" in response.text


def test_blank_password_on_edit_tests_the_stored_one(client, organization, owner, local_registry):
    registry = RegistryFactory(
        organization=organization, address=local_registry, username=USERNAME, password=PASSWORD
    )
    client.force_login(owner)
    data = form_data(local_registry, id=registry.pk, password="")
    response = client.post(probe_url(organization), data, **HX)
    assert outcome(response) == "ok"


def test_typed_password_on_edit_is_tested_instead_of_the_stored_one(
    client, organization, owner, local_registry
):
    registry = RegistryFactory(
        organization=organization, address=local_registry, username=USERNAME, password=PASSWORD
    )
    client.force_login(owner)
    data = form_data(local_registry, id=registry.pk, password=WRONG_PASSWORD)
    assert outcome(client.post(probe_url(organization), data, **HX)) == "unauthorized"


def test_blank_password_for_a_new_registry_is_a_field_error(
    client, organization, owner, probe_calls
):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("ghcr.io", password=""), **HX)
    assert "BasicAuth needs a password." in response.text
    assert "data-outcome" not in response.text
    assert probe_calls == []


def test_invalid_address_shows_the_field_error_and_tests_nothing(
    client, organization, owner, probe_calls, connections
):
    client.force_login(owner)
    data = form_data("https://user:pw@registry.example.com")
    response = client.post(probe_url(organization), data, **HX)
    assert response.status_code == 200
    assert "Do not put credentials in the address" in response.text
    assert 'aria-invalid="true"' in response.text
    # The errors replace the whole form, not just the result slot.
    assert response["HX-Retarget"] == "#registry-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.text.lstrip().startswith('<form id="registry-form"')
    assert "data-outcome" not in response.text
    assert probe_calls == []
    assert connections == []


def test_address_is_tested_as_the_form_normalizes_it(client, organization, owner, monkeypatch):
    # Only what the engine is asked matters here: Docker Hub itself is not reachable from tests.
    asked: list[dict] = []

    def engine(**kwargs):
        asked.append(kwargs)
        return ProbeResult("dns", "Not looked up in this test.")

    monkeypatch.setattr(connection_test, "probe_registry", engine)
    client.force_login(owner)
    client.post(probe_url(organization), form_data("HTTPS://Index.Docker.IO/v1/"), **HX)
    assert asked[0]["address"] == "docker.io"
    assert asked[0]["plain_http"] is False


def test_a_registry_can_be_tested_before_it_is_named_or_while_its_address_is_taken(
    client, organization, owner, probe_calls
):
    RegistryFactory(organization=organization, display_name="Azure", address="*.azurecr.io")
    client.force_login(owner)
    data = form_data("*.azurecr.io", display_name="")
    response = client.post(probe_url(organization), data, **HX)
    assert outcome(response) == "untestable"
    assert len(probe_calls) == 1


def test_token_without_a_username_logs_in_as_token(client, organization, owner, probe_calls):
    client.force_login(owner)
    data = form_data(
        "*.azurecr.io", auth_type="Token", username="", password="", token="tok-value-123"
    )
    client.post(probe_url(organization), data, **HX)
    assert (probe_calls[0]["username"], probe_calls[0]["secret"]) == ("token", "tok-value-123")


def test_stored_token_is_used_when_the_token_field_is_blank(
    client, organization, owner, probe_calls
):
    registry = RegistryFactory(
        organization=organization,
        address="*.azurecr.io",
        auth_type=AuthType.TOKEN,
        username="",
        password="",
        token="stored-token-77",
    )
    client.force_login(owner)
    data = form_data("*.azurecr.io", id=registry.pk, auth_type="Token", username="", token="")
    client.post(probe_url(organization), data, **HX)
    assert (probe_calls[0]["username"], probe_calls[0]["secret"]) == ("token", "stored-token-77")


def test_switching_the_auth_type_needs_the_new_secret_to_test(
    client, organization, owner, probe_calls
):
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    data = form_data("*.azurecr.io", id=registry.pk, auth_type="Token", token="")
    response = client.post(probe_url(organization), data, **HX)
    assert "Token authentication needs a token." in response.text
    assert probe_calls == []


def test_a_stored_secret_is_never_tested_against_another_host(
    client, organization, owner, probe_calls
):
    registry = RegistryFactory(organization=organization, address="ghcr.io", password="stored-pw")
    client.force_login(owner)
    data = form_data("collector.example.com", id=registry.pk, password="")
    response = client.post(probe_url(organization), data, **HX)
    assert "a stored credential is only sent to the host it was saved for" in response.text
    assert probe_calls == []


def test_wildcard_address_cannot_be_tested_and_says_so(client, organization, owner, connections):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("*.azurecr.io"), **HX)
    assert outcome(response) == "untestable"
    assert "wildcard addresses cannot be tested" in response.text
    assert connections == []


def test_private_address_is_blocked_unless_the_operator_allows_it(
    client, organization, owner, connections
):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("10.1.2.3:5000"), **HX)
    assert outcome(response) == "blocked"
    assert "REGISTRY_PROBE_ALLOWED_NETWORKS" in response.text
    assert connections == []


def test_plain_http_is_not_tested_unless_the_operator_allows_it(
    client, organization, owner, connections
):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data("http://registry.example.com"), **HX)
    assert outcome(response) == "insecure-http"
    assert connections == []


def test_registry_certificate_from_an_unknown_ca_is_a_tls_failure(
    client, organization, owner, local_registry, settings
):
    settings.REGISTRY_PROBE_CA_BUNDLE = None
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data(local_registry), **HX)
    assert outcome(response) == "tls"
    assert "REGISTRY_PROBE_CA_BUNDLE" in response.text


def test_result_is_announced_to_screen_readers_with_an_icon_and_words(client, organization, owner):
    client.force_login(owner)
    page = client.get(reverse("registries:create", kwargs={"slug": organization.slug}))
    assert re.search(r'id="probe-result"[^>]*role="status"', page.text)
    response = client.post(probe_url(organization), form_data("*.azurecr.io"), **HX)
    assert '<span class="probe-icon" aria-hidden="true">!</span>' in response.text
    assert "Cannot be tested" in response.text


def test_form_without_javascript_shows_the_result_in_the_rerendered_page(
    client, organization, owner, local_registry
):
    client.force_login(owner)
    response = client.post(probe_url(organization), form_data(local_registry))
    assert response.status_code == 200
    assert "<html" in response.text
    assert outcome(response) == "ok"
    # The form is still the add form, with the typed values kept except the password.
    create_url = reverse("registries:create", kwargs={"slug": organization.slug})
    assert f'action="{create_url}"' in response.text
    assert 'value="Our registry"' in response.text
    assert f'value="{local_registry}"' in response.text
    assert f'value="{USERNAME}"' in response.text
    assert PASSWORD not in response.text


def test_edit_form_without_javascript_stays_the_edit_form(
    client, organization, owner, local_registry
):
    registry = RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address=local_registry,
        username=USERNAME,
        password=PASSWORD,
    )
    client.force_login(owner)
    data = form_data(local_registry, id=registry.pk, password="", display_name="Harbor 2")
    response = client.post(probe_url(organization), data)
    assert outcome(response) == "ok"
    edit_url = reverse("registries:edit", kwargs={"slug": organization.slug, "pk": registry.pk})
    assert f'action="{edit_url}"' in response.text
    assert f'name="id" value="{registry.pk}"' in response.text
    assert "Edit “Harbor”" in response.text
    assert 'value="Harbor 2"' in response.text
    registry.refresh_from_db()
    assert registry.display_name == "Harbor"  # testing saves nothing


# Testing what is stored


def test_stored_registry_is_tested_with_its_stored_credentials(
    client, organization, owner, local_registry
):
    registry = RegistryFactory(
        organization=organization, address=local_registry, username=USERNAME, password=PASSWORD
    )
    client.force_login(owner)
    response = client.post(probe_url(organization, registry), **HX)
    assert response.status_code == 200
    assert outcome(response) == "ok"
    assert "<table" not in response.text


def test_stored_wrong_password_is_unauthorized(client, organization, owner, local_registry):
    registry = RegistryFactory(
        organization=organization,
        address=local_registry,
        username=USERNAME,
        password=WRONG_PASSWORD,
    )
    client.force_login(owner)
    assert outcome(client.post(probe_url(organization, registry), **HX)) == "unauthorized"


def test_stored_test_without_javascript_shows_the_result_in_its_row(
    client, organization, owner, local_registry
):
    tested = RegistryFactory(
        organization=organization, address=local_registry, username=USERNAME, password=PASSWORD
    )
    other = RegistryFactory(organization=organization)
    client.force_login(owner)
    response = client.post(probe_url(organization, tested))
    assert response.status_code == 200
    assert "<html" in response.text
    row = re.search(rf'<tbody id="registry-{tested.pk}".*?</tbody>', response.text, re.S).group(0)
    assert 'data-outcome="ok"' in row
    other_row = re.search(rf'<tbody id="registry-{other.pk}".*?</tbody>', response.text, re.S)
    assert "data-outcome" not in other_row.group(0)


def test_each_row_has_a_test_button_and_a_result_slot(client, organization, owner):
    registry = RegistryFactory(organization=organization, display_name="Quay")
    client.force_login(owner)
    text = client.get(reverse("registries:list", kwargs={"slug": organization.slug})).text
    assert f'action="{probe_url(organization, registry)}"' in text
    assert 'aria-label="Test connection to Quay"' in text
    assert re.search(rf'id="probe-result-{registry.pk}"[^>]*role="status"', text)


def test_results_are_never_cached(client, organization, owner, probe_calls):
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    for _ in range(2):
        response = client.post(probe_url(organization, registry), **HX)
        assert "no-store" in response["Cache-Control"]
    assert len(probe_calls) == 2


# Our own rate limit


def test_over_the_rate_a_test_is_refused_with_429_and_a_clear_message(
    client, organization, owner, settings, probe_calls
):
    settings.REGISTRY_PROBE_RATE = "2/m"
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    for _ in range(2):
        assert client.post(probe_url(organization, registry), **HX).status_code == 200
    response = client.post(probe_url(organization, registry), **HX)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert 'data-limit="exceeded"' in response.text
    assert "data-outcome" not in response.text
    assert "Too many tests" in response.text
    assert "limited to 2 per minute for each person" in response.text
    assert re.search(r"Try again in \d+ seconds?\.", response.text)
    assert len(probe_calls) == 2


def test_the_rate_limit_counts_each_person_separately(
    client, organization, owner, org_admin, settings
):
    settings.REGISTRY_PROBE_RATE = "1/h"
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    assert client.post(probe_url(organization, registry), **HX).status_code == 200
    assert client.post(probe_url(organization), form_data("*.a.io"), **HX).status_code == 429
    client.force_login(org_admin)
    assert client.post(probe_url(organization, registry), **HX).status_code == 200


def test_invalid_forms_do_not_count_towards_the_rate(client, organization, owner, settings):
    settings.REGISTRY_PROBE_RATE = "1/m"
    client.force_login(owner)
    for _ in range(3):
        client.post(probe_url(organization), form_data("not a host"), **HX)
    response = client.post(probe_url(organization), form_data("*.azurecr.io"), **HX)
    assert response.status_code == 200


def test_over_the_rate_without_javascript_the_page_says_so(client, organization, owner, settings):
    settings.REGISTRY_PROBE_RATE = "1/m"
    registry = RegistryFactory(organization=organization, address="*.azurecr.io")
    client.force_login(owner)
    client.post(probe_url(organization, registry))
    for response in (
        client.post(probe_url(organization, registry)),
        client.post(probe_url(organization), form_data("*.azurecr.io")),
    ):
        assert response.status_code == 429
        assert "<html" in response.text
        assert "Too many tests" in response.text


# Secrets


def test_secret_never_appears_in_any_response_or_log(
    client, organization, owner, local_registry, settings, caplog
):
    typed = "typed-secret-must-not-leak-8812"
    stored = RegistryFactory(
        organization=organization,
        address=local_registry,
        username=USERNAME,
        password=WRONG_PASSWORD,
    )
    token = RegistryFactory(
        organization=organization,
        address="*.azurecr.io",
        auth_type=AuthType.TOKEN,
        password="",
        token=WRONG_PASSWORD,
    )
    settings.REGISTRY_PROBE_RATE = "7/m"
    client.force_login(owner)
    with caplog.at_level(logging.DEBUG):
        responses = [
            client.post(probe_url(organization, stored), **HX),
            client.post(probe_url(organization, stored)),
            client.post(probe_url(organization, token), **HX),
            client.post(probe_url(organization), form_data(local_registry, password=typed), **HX),
            client.post(probe_url(organization), form_data(local_registry, password=typed)),
            client.post(probe_url(organization), form_data("bad host", password=typed), **HX),
            client.post(probe_url(organization), form_data("bad host", password=typed)),
            client.post(probe_url(organization), form_data("10.0.0.1", password=typed), **HX),
            client.post(
                probe_url(organization),
                form_data(local_registry, id=stored.pk, password=""),
                **HX,
            ),
            # Seven tests above (invalid forms do not count); the limit answers the eighth.
            client.post(probe_url(organization), form_data(local_registry, password=typed)),
        ]
    assert {r.status_code for r in responses} == {200, 429}
    for response in responses:
        assert typed not in response.text
        assert WRONG_PASSWORD not in response.text
    assert typed not in caplog.text
    assert WRONG_PASSWORD not in caplog.text


# What the page says for each outcome


@pytest.mark.parametrize("name", OUTCOMES)
def test_every_outcome_has_a_title_an_icon_and_the_engines_message(name):
    report = connection_test.report_for(ProbeResult(name, f"The {name} message.", "basic"))
    assert report.outcome == name
    assert report.title
    assert report.icon in {"✓", "!", "✕"}
    assert report.message == f"The {name} message."


def test_anonymous_registry_is_not_reported_as_checked_credentials():
    report = connection_test.report_for(ProbeResult("ok", "It allows anonymous access.", "none"))
    assert report.outcome == "ok"
    assert report.tone == "warn"
    assert "credentials not checked" in report.title
