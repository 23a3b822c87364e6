"""LOG_FORMAT=json: one JSON object per line, with the request ID that X-Request-ID returns and
the organization's slug; and, as in every other output, never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.cache import cache
from django.urls import reverse

from operations.logs import JsonFormatter, RequestContextFilter

from .factories import RegistryFactory

pytestmark = pytest.mark.django_db

TYPED = "typed-secret-must-not-leak-7731"
STORED = "stored-secret-must-not-leak-4410"


@pytest.fixture
def json_log():
    """The root logger's output as LOG_FORMAT=json configures it, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_logs_one_json_line_with_its_request_id(client, json_log):
    response = client.get(reverse("login"))
    lines = [line for line in json_log() if line["logger"] == "orgsettings.requests"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == response["X-Request-ID"]
    assert lines[0] | {"time": None} == {
        "time": None,
        "level": "INFO",
        "logger": "orgsettings.requests",
        "message": "GET /accounts/login/ 200",
        "method": "GET",
        "path": "/accounts/login/",
        "status": 200,
        "view": "login",
        "duration_ms": lines[0]["duration_ms"],
        "request_id": response["X-Request-ID"],
    }


def test_lines_on_an_organizations_pages_name_it(client, organization, owner, json_log):
    client.force_login(owner)
    client.get(reverse("registries:list", kwargs={"slug": organization.slug}))
    (line,) = [line for line in json_log() if line["logger"] == "orgsettings.requests"]
    assert line["organization"] == "acme"


def test_every_request_gets_its_own_id(client):
    first, second = client.get(reverse("login")), client.get(reverse("login"))
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_clients_request_id_is_replaced_without_trusted_proxies(client, settings):
    settings.AUDIT_TRUSTED_PROXIES = 0
    response = client.get(reverse("login"), HTTP_X_REQUEST_ID="made-up-by-the-client")
    assert response["X-Request-ID"] != "made-up-by-the-client"


def test_a_trusted_proxys_request_id_is_kept(client, settings, json_log):
    settings.AUDIT_TRUSTED_PROXIES = 1
    response = client.get(reverse("login"), HTTP_X_REQUEST_ID="lb-7f3a9c")
    assert response["X-Request-ID"] == "lb-7f3a9c"
    assert {line.get("request_id") for line in json_log()} == {"lb-7f3a9c"}


def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, settings):
    settings.AUDIT_TRUSTED_PROXIES = 1
    response = client.get(reverse("login"), HTTP_X_REQUEST_ID='x" injected=1')
    assert response["X-Request-ID"] != 'x" injected=1'


def test_json_logs_never_carry_a_secret(
    client, organization, owner, settings, cluster, json_log, connections
):
    """Saving, editing, syncing and testing registries, with failures on the way."""
    cache.clear()
    client.force_login(owner)
    slug = {"slug": organization.slug}
    form = {
        "display_name": "Ours",
        "address": "registry.example.com",
        "auth_type": "BasicAuth",
        "username": "robot",
        "password": TYPED,
        "token": "",
    }
    stored = RegistryFactory(organization=organization, address="10.0.0.2:5000", password=STORED)
    cluster.fail_next(3, status=500)
    client.post(reverse("registries:create", kwargs=slug), form)
    client.post(reverse("registries:create", kwargs=slug), form | {"address": "bad host"})
    client.post(
        reverse("registries:edit", kwargs=slug | {"pk": stored.pk}),
        form | {"display_name": "Stored", "address": stored.address, "password": "", "version": 1},
    )
    client.post(reverse("registries:test", kwargs=slug), form | {"address": "10.0.0.1"})
    client.post(reverse("registries:test-stored", kwargs=slug | {"pk": stored.pk}))
    lines = json_log()
    assert connections == []
    assert any(line["logger"] == "orgsettings.requests" for line in lines)
    assert {line.get("organization") for line in lines if "request_id" in line} == {"acme"}
    text = json.dumps(lines)
    assert TYPED not in text
    assert STORED not in text
