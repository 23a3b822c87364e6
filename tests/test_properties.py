"""Property tests: whatever people or scripts send, the registry views answer a page, a field
error or a 404, never a 500, and nothing is stored that the product's own form would refuse.

Values cover unicode of every category, control characters, NULs and values up to 1 MB. The
example count is bounded by the Hypothesis profile in tests/conftest.py ("suite"); the "fuzz"
profile (HYPOTHESIS_PROFILE=fuzz) runs thousands of examples for a one-off search. Connection
tests run the real engine: the suite's network guard refuses whatever it tries beyond loopback.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from registries.forms import RegistryForm
from registries.models import AuthType, ContainerRegistry

from .factories import RegistryFactory

pytestmark = [pytest.mark.django_db, pytest.mark.expects_refused_connections]

HX = {"HTTP_HX_REQUEST": "true"}
ONE_MB = 1_000_000

# Characters people paste by accident or scripts send on purpose.
_NASTY = st.sampled_from(
    [
        "\x00",
        "\x1b[31m",
        "\t",
        "\n",
        "\r\n",
        "\x7f",
        "\x85",
        "\u202e",
        "\u200b",
        "\ufeff",
        "\u00b2",
        "\u0661",
    ]
)
_SHORT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.lists(st.one_of(_NASTY, st.text(max_size=5)), max_size=8).map("".join),
)
# Up to 1 MB once encoded: one repeated unit, so that generating it stays cheap.
_LARGE = st.builds(
    lambda unit, size: unit * max(1, size // len(unit.encode())),
    st.sampled_from(["a", "1", "é", "😀", "\x00", " ", "a/", "@"]),
    st.integers(min_value=256, max_value=ONE_MB),
)
_VALUE = st.one_of(_SHORT, _SHORT, _SHORT, _LARGE)
# Addresses near the valid ones get further into the rules than random text does.
_ADDRESS = st.one_of(
    _VALUE,
    st.builds(
        "{}{}{}{}".format,
        st.sampled_from(["", "http://", "https://", "HTTPS://", "ftp://", "bob:pw@"]),
        st.sampled_from(["ghcr.io", "registry.example.com", "[::1]", "10.0.0.1", "*.azurecr.io"]),
        st.sampled_from(["", ":5000", ":\u00b2", ":\u0661", ":0", ":65536", ":" + "9" * 30]),
        st.one_of(st.just(""), _SHORT.map(lambda path: "/" + path)),
    ),
)
_AUTH_TYPE = st.one_of(st.sampled_from(AuthType.values), _SHORT)
_ID = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=30),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "1" * n),
    _SHORT,
)


@st.composite
def registry_posts(draw) -> dict:
    return {
        "display_name": draw(_VALUE),
        "address": draw(_ADDRESS),
        "auth_type": draw(_AUTH_TYPE),
        "username": draw(_VALUE),
        "password": draw(_VALUE),
        "token": draw(_VALUE),
    }


@pytest.fixture
def manager(client, organization, owner, settings):
    settings.REGISTRY_PROBE_RATE = "100/s"
    settings.REGISTRY_PROBE_TIMEOUT = 1
    client.force_login(owner)
    return client


def _url(name: str, organization, **kwargs) -> str:
    return reverse(f"registries:{name}", kwargs={"slug": organization.slug, **kwargs})


def _answered(response, data: dict, allowed: tuple[int, ...]) -> None:
    """The status is one of `allowed`; or a 400 (Django's own refusal, before any view runs)
    when the whole body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."""
    size = sum(len(str(value).encode()) for value in data.values())
    if response.status_code == 400:
        assert size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE, size
        assert "Nothing was saved" in response.text
        return
    assert response.status_code in allowed


def _assert_every_row_passes_the_form(organization) -> None:
    """The stored values, submitted again as they are, are valid for the product's own form."""
    for registry in ContainerRegistry.objects.filter(organization=organization):
        data = {
            "display_name": registry.display_name,
            "address": f"http://{registry.address}" if registry.plain_http else registry.address,
            "auth_type": registry.auth_type,
            "username": registry.username,
            "password": registry.password,
            "token": registry.token,
            "version": str(registry.version),
        }
        form = RegistryForm(data, instance=registry, organization=organization)
        assert form.is_valid(), (registry.pk, form.errors)
        registry.full_clean()


@given(data=registry_posts(), htmx=st.booleans())
def test_create_answers_a_page_or_field_errors_and_stores_only_valid_rows(
    manager, organization, data, htmx
):
    ContainerRegistry.objects.filter(organization=organization).delete()
    response = manager.post(_url("create", organization), data, **(HX if htmx else {}))
    _answered(response, data, (200, 302))
    _assert_every_row_passes_the_form(organization)


@given(data=registry_posts(), version=st.one_of(st.none(), st.just("1"), _ID))
def test_edit_answers_a_page_or_field_errors_and_stores_only_valid_rows(
    manager, organization, data, version
):
    ContainerRegistry.objects.filter(organization=organization).delete()
    registry = RegistryFactory(organization=organization, address="ghcr.io")
    if version is not None:
        data = {**data, "version": version}
    response = manager.post(_url("edit", organization, pk=registry.pk), data, **HX)
    _answered(response, data, (200,))
    _assert_every_row_passes_the_form(organization)


@given(data=registry_posts(), raw_id=st.one_of(st.just(""), _ID))
def test_connection_test_of_the_form_answers_a_result_field_errors_or_404(
    manager, organization, data, raw_id
):
    cache.clear()
    data = {**data, "id": raw_id}
    response = manager.post(_url("test", organization), data, **HX)
    _answered(response, data, (200, 404))


@given(raw_id=_ID)
def test_connection_test_of_a_stored_registry_with_any_id_answers_404(
    manager, organization, raw_id
):
    cache.clear()
    path = _url("list", organization) + quote(raw_id, safe="") + "/test/"
    response = manager.post(path, **HX)
    assert response.status_code == 404
