"""/healthz and /readyz, as Kubernetes' probes reach them: by pod IP, over plain HTTP."""

from __future__ import annotations

import pytest

from operations.health import forget_migrations_check

pytestmark = pytest.mark.django_db

POD = {"HTTP_HOST": "10.1.2.3:8000"}


@pytest.fixture(autouse=True)
def _check_migrations_again():
    forget_migrations_check()
    yield
    forget_migrations_check()


def test_healthz_answers_a_probe_that_names_the_pod_ip_over_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["platform.example.com"]
    response = client.get("/healthz", **POD)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_200_when_the_database_answers_and_migrations_are_applied(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["platform.example.com"]
    response = client.get("/readyz", **POD)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_while_a_migration_is_not_applied(client, settings):
    settings.MIGRATION_MODULES = {"operations": "tests.unapplied_migrations"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"migrations": "1 not applied yet"},
    }


def test_other_paths_still_check_the_host(client, settings):
    settings.ALLOWED_HOSTS = ["platform.example.com"]
    assert client.get("/accounts/login/", **POD).status_code == 400


def test_probes_answer_only_get_and_head(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_probes_need_no_login_and_say_nothing_secret(client, settings):
    for path in ("/healthz", "/readyz"):
        text = client.get(path).content.decode()
        assert settings.SECRET_KEY not in text
        assert settings.DATABASES["default"]["NAME"] not in text
