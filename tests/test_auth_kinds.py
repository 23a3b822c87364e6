"""Auth kinds as one pluggable place: the kinds come from REGISTRY_AUTH_KINDS, and a kind
added there (one class) appears in the form, is stored, audited and delivered without any other
code knowing it."""

from __future__ import annotations

import datetime

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from delivery.dockerconfig import build_config
from orgsettings.models import AuditEvent
from registries.auth_kinds import (
    AuthKind,
    Login,
    LoginUnavailable,
    UnknownAuthKind,
    auth_kind_choices,
    auth_kinds,
    get_auth_kind,
    secret_field,
)
from registries.forms import RegistryForm
from registries.models import ContainerRegistry
from registries.services import registry_create, registry_update

from .factories import RegistryFactory

pytestmark = pytest.mark.django_db

BUILT_IN = ["registries.auth_kinds.basic.BasicAuth", "registries.auth_kinds.token.Token"]
WITH_API_KEY = [*BUILT_IN, "tests.test_auth_kinds.ApiKey"]


class ApiKey(AuthKind):
    """A kind the way a new one is written: one class with its fields and its login."""

    value = "ApiKey"
    label = "Example API key"
    caption = "Example: an API key and its region."
    secret_fields = ("example_api_key",)
    missing_secret = "Example needs an API key."

    def form_fields(self):
        return {
            "example_region": forms.CharField(label="Region", required=False),
            "example_api_key": secret_field("API key", max_length=100),
        }

    def clean(self, form, *, keeps_stored_secret):
        if not form.cleaned_data.get("example_region"):
            form.add_error("example_region", "Example needs a region.")
        super().clean(form, keeps_stored_secret=keeps_stored_secret)

    def advice_for_others(self, address_key, username):
        if address_key.endswith(".example-cloud.test"):
            return "This password expires hourly; use Example API key to have it refreshed."
        return ""

    def row_notes(self, registry, *, now):
        refresh_at = registry.kind_state.get("refresh_at")
        return [f"refreshed at {refresh_at}"] if refresh_at else []

    def login(self, registry, *, now):
        issued = registry.issued()
        if issued is not None:
            return issued
        region = registry.options.get("example_region", "")
        return Login(f"key-{region}", registry.secret_values().get("example_api_key", ""))

    def login_to_test(self, registry, *, now):
        if registry.options.get("example_region") == "closed":
            raise LoginUnavailable("The example region is closed.")
        return self.login(registry, now=now)


class Twice(ApiKey):
    value = "BasicAuth"


@pytest.fixture
def api_key_kind(settings):
    settings.REGISTRY_AUTH_KINDS = WITH_API_KEY
    return get_auth_kind("ApiKey")


def api_key_data(**overrides):
    data = {
        "display_name": "Example",
        "address": "registry.example-cloud.test",
        "auth_type": "ApiKey",
        "username": "",
        "example_region": "north",
        "example_api_key": "k-123",
    }
    return {**data, **overrides}


def test_the_built_in_kinds_are_basicauth_token_then_amazon_ecr():
    assert [kind.value for kind in auth_kinds()] == ["BasicAuth", "Token", "ECR"]
    assert auth_kind_choices() == [
        ("BasicAuth", "BasicAuth"),
        ("Token", "Token"),
        ("ECR", "Amazon ECR"),
    ]


def test_an_unconfigured_kind_is_unknown():
    with pytest.raises(UnknownAuthKind):
        get_auth_kind("Example")


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([], "lists no auth kind"),
        ([*BUILT_IN, "tests.test_auth_kinds.Missing"], "cannot import"),
        ([*BUILT_IN, "tests.test_auth_kinds.Login"], "is not an AuthKind"),
        ([*BUILT_IN, "tests.test_auth_kinds.Twice"], "twice"),
    ],
)
def test_a_wrong_setting_says_what_is_wrong(settings, paths, message):
    settings.REGISTRY_AUTH_KINDS = paths
    with pytest.raises(ImproperlyConfigured, match=message):
        auth_kinds()


def test_a_configured_kind_is_offered_by_the_form_with_its_fields(api_key_kind, organization):
    form = RegistryForm(organization=organization)
    assert ("ApiKey", "Example API key") in form.fields["auth_type"].choices
    assert {"example_region", "example_api_key"} <= set(form.fields)
    html = str(form["example_api_key"])
    assert 'type="password"' in html


def test_a_configured_kind_appears_in_the_page_with_its_caption(
    api_key_kind, client, organization, owner
):
    client.force_login(owner)
    page = client.get(reverse("registries:create", kwargs={"slug": organization.slug}))
    html = page.content.decode()
    assert "Example: an API key and its region." in html
    assert 'name="example_api_key"' in html
    # Its fields are shown for it alone: the third Auth Type.
    assert 'data-auth="ApiKey" data-kinds="3"' in html


def test_a_kind_checks_its_own_fields(api_key_kind, organization):
    form = RegistryForm(
        api_key_data(example_region="", example_api_key=""), organization=organization
    )
    assert not form.is_valid()
    assert form.errors["example_region"] == ["Example needs a region."]
    assert form.errors["example_api_key"] == ["Example needs an API key."]
    # Another kind's rules do not apply: no username is needed.
    assert "username" not in form.errors


def test_a_kind_stores_its_options_plainly_and_its_secrets_encrypted(
    api_key_kind, organization, owner
):
    form = RegistryForm(api_key_data(), organization=organization)
    assert form.is_valid(), form.errors
    registry = registry_create(organization, actor=owner, **form.registry_fields())

    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert stored.options == {"example_region": "north"}
    assert stored.secret_values() == {"example_api_key": "k-123"}
    assert (stored.password, stored.token) == ("", "")
    assert build_config([stored])["auths"]["registry.example-cloud.test"]["username"] == "key-north"
    assert build_config([stored])["auths"]["registry.example-cloud.test"]["password"] == "k-123"
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM registries_containerregistry")
        assert b"k-123" not in bytes(cursor.fetchone()[0])


def test_a_kinds_secret_is_audited_as_set_never_by_value(api_key_kind, organization, owner):
    form = RegistryForm(api_key_data(), organization=organization)
    assert form.is_valid(), form.errors
    registry_create(organization, actor=owner, **form.registry_fields())

    event = AuditEvent.objects.get()
    assert event.changes["example_api_key"] == {"secret": "set"}
    assert event.changes["example_region"] == {"old": None, "new": "north"}
    assert "k-123" not in str(event.changes)


def test_editing_with_a_blank_secret_keeps_the_kinds_stored_one(api_key_kind, organization, owner):
    form = RegistryForm(api_key_data(), organization=organization)
    assert form.is_valid()
    registry = registry_create(organization, actor=owner, **form.registry_fields())

    form = RegistryForm(
        api_key_data(example_api_key="", example_region="south", version=registry.version),
        instance=registry,
        organization=organization,
    )
    assert form.is_valid(), form.errors
    assert form.initial["example_region"] == "north"
    saved = registry_update(
        registry, actor=owner, expected_version=registry.version, **form.registry_fields()
    )
    stored = ContainerRegistry.objects.get(pk=saved.pk)
    assert (stored.options, stored.secret_values()) == (
        {"example_region": "south"},
        {"example_api_key": "k-123"},
    )


def test_switching_to_basicauth_removes_the_kinds_values(api_key_kind, organization, owner):
    form = RegistryForm(api_key_data(), organization=organization)
    assert form.is_valid()
    registry = registry_create(organization, actor=owner, **form.registry_fields())

    registry_update(
        registry,
        actor=owner,
        expected_version=registry.version,
        auth_type="BasicAuth",
        username="robot",
        password="pw",
        example_region="",
        example_api_key="",
    )
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert (stored.options, stored.secrets, stored.password) == ({}, "", "pw")
    event = AuditEvent.objects.latest("pk")
    assert event.changes["example_api_key"] == {"secret": "removed"}


def test_a_kind_warns_when_another_kind_is_typed_for_its_addresses(
    api_key_kind, client, organization, owner
):
    client.force_login(owner)
    hints = client.post(
        reverse("registries:hints", kwargs={"slug": organization.slug}),
        {"address": "r.example-cloud.test", "username": "u", "auth_type": "BasicAuth"},
    )
    assert "use Example API key to have it refreshed" in hints.content.decode()
    chosen = client.post(
        reverse("registries:hints", kwargs={"slug": organization.slug}),
        {"address": "r.example-cloud.test", "username": "", "auth_type": "ApiKey"},
    )
    assert "have it refreshed" not in chosen.content.decode()


def test_a_connection_test_reports_a_login_the_kind_cannot_get(
    api_key_kind, client, organization, owner
):
    registry = RegistryFactory(
        organization=organization,
        auth_type="ApiKey",
        username="",
        password="",
        options={"example_region": "closed"},
        secrets='{"example_api_key": "k"}',
    )
    client.force_login(owner)
    response = client.post(
        reverse("registries:test-stored", kwargs={"slug": organization.slug, "pk": registry.pk}),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "The example region is closed." in html
    assert "Credentials rejected" in html


def test_the_built_in_kinds_say_which_secret_they_store(organization):
    token = RegistryFactory(organization=organization, auth_type="Token", password="", token="t")
    basic = RegistryFactory(organization=organization)
    assert token.kind.describe_stored(token) == "A token is stored (never shown)."
    assert basic.kind.describe_stored(basic) == "A password is stored (never shown)."


def test_rotating_the_key_re_encrypts_a_kinds_secrets_and_issued_login(settings, organization):
    from registries import encryption, rotation

    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = "old-key-" * 4, []
    registry = RegistryFactory(organization=organization, secrets='{"example_api_key": "k"}')
    registry.set_issued_login(Login("AWS", "minted"))
    registry.save()
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = "new-key-" * 4, ["old-key-" * 4]

    reports = {report.name: report for report in rotation.rotate()}
    assert reports["container registries"].rewritten == 1

    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets, issued_login FROM registries_containerregistry")
        assert all(encryption.is_current(bytes(value)) for value in cursor.fetchone())
    stored = ContainerRegistry.objects.get()
    assert stored.secret_values() == {"example_api_key": "k"}
    assert stored.issued().secret == "minted"


def test_a_login_the_kind_issued_is_delivered_without_counting_as_a_persons_change(
    organization, owner
):
    from registries.services import registry_login_issue

    registry = RegistryFactory(organization=organization, updated_by=owner)
    expires = timezone.now() + datetime.timedelta(hours=12)

    issued = registry_login_issue(
        registry, login=Login("AWS", "minted-1", expires), state={"refresh_at": "later"}
    )

    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert stored.version == registry.version + 1 == issued.version
    assert (stored.updated_at, stored.updated_by) == (registry.updated_at, owner)
    assert (stored.issued().secret, stored.issued_expires_at) == ("minted-1", expires)
    assert stored.kind_state == {"refresh_at": "later"}
    assert not AuditEvent.objects.exists()
    assert "minted-1" not in repr(stored.issued())


def test_a_kinds_issued_login_shows_its_expiry_and_notes_on_the_row(
    api_key_kind, client, organization, owner, django_assert_num_queries
):
    from registries.services import registry_login_issue

    for index in range(3):
        registry = RegistryFactory(
            organization=organization,
            auth_type="ApiKey",
            username="",
            password="",
            options={"example_region": "north"},
            secrets='{"example_api_key": "k"}',
            updated_by=owner,
        )
        registry_login_issue(
            registry,
            login=Login("key", f"minted-{index}", timezone.now() + datetime.timedelta(hours=9)),
            state={"refresh_at": "06:00"},
        )
    client.force_login(owner)
    url = reverse("registries:list", kwargs={"slug": organization.slug})
    client.get(url)
    with django_assert_num_queries(7):
        html = client.get(url).content.decode()
    assert html.count('data-expiry="ok">token expires in 9 h</span>') == 3
    assert html.count("refreshed at 06:00") == 3
    assert "minted-" not in html
    # A lifetime said quietly is not a warning: the reconciler counts none.
    from registries.expiry import expiry_pass

    assert (expiry_pass().expiring, expiry_pass().expired) == (0, 0)
    # The Secret delivers the issued login.
    delivered = build_config(ContainerRegistry.objects.all())["auths"][registry.address]
    assert delivered["password"] == "minted-2"


def test_manage_py_check_refuses_a_wrong_auth_kinds_setting(settings):
    from registries.checks import auth_kind_settings

    assert auth_kind_settings(None) == []
    settings.REGISTRY_AUTH_KINDS = [*BUILT_IN, "tests.test_auth_kinds.Missing"]
    [error] = auth_kind_settings(None)
    assert (error.id, error.level >= 40) == ("registries.E010", True)
    assert "cannot import 'tests.test_auth_kinds.Missing'" in error.msg


def test_a_kinds_secret_never_appears_in_a_page(api_key_kind, client, organization, owner):
    form = RegistryForm(api_key_data(example_api_key="kind-secret-0451"), organization=organization)
    assert form.is_valid(), form.errors
    registry = registry_create(organization, actor=owner, **form.registry_fields())
    client.force_login(owner)
    slug = organization.slug
    pages = [
        reverse("registries:list", kwargs={"slug": slug}),
        reverse("registries:edit", kwargs={"slug": slug, "pk": registry.pk}),
        reverse("settings-activity", kwargs={"slug": slug}),
    ]
    for url in pages:
        assert "kind-secret-0451" not in client.get(url).content.decode()
    # Not even when the form comes back with an error.
    response = client.post(
        reverse("registries:create", kwargs={"slug": slug}),
        api_key_data(display_name="Other", example_region="", example_api_key="kind-secret-0451"),
    )
    html = response.content.decode()
    assert "kind-secret-0451" not in html
    assert "Paste the API key again" in html


def test_a_pass_with_nothing_expiring_costs_one_query(django_assert_num_queries, organization):
    from registries.expiry import expiry_pass

    RegistryFactory(organization=organization)
    with django_assert_num_queries(1):
        expiry_pass()
