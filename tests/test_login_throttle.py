"""Login throttling on both login pages: at most 10 failed logins in a row per username and per
client address, then nothing is checked until the lock expires or an operator lifts it."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.urls import reverse

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 10
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LOCKED = "Too many failed logins for this username or from your address."


def attempt(client, url: str, username: str, password: str, address: str = "198.51.100.7", **extra):
    return client.post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_after_ten_failures_in_a_row_even_the_right_password_is_refused(client, url):
    UserFactory(username="olivia", is_staff=True)
    statuses = [attempt(client, url, "olivia", f"wrong-{n}").status_code for n in range(LIMIT)]

    response = attempt(client, url, "olivia", PASSWORD)

    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)
    assert statuses[LIMIT - 1] == 429
    assert response.status_code == 429
    assert LOCKED in response.text
    assert "paused for 15 minutes" in response.text
    assert not logged_in(client)


def test_no_login_is_answered_after_the_limit(client):
    UserFactory(username="olivia")
    answered_after_limit = 0
    for n in range(100):
        # Wrong until the limit, then the right password every other try.
        password = PASSWORD if n >= LIMIT and n % 2 else f"wrong-{n}"
        response = attempt(client, LOGIN, "olivia", password)
        if n >= LIMIT and response.status_code != 429:
            answered_after_limit += 1
    assert answered_after_limit == 0
    assert not logged_in(client)


def test_nine_failures_then_success_starts_the_count_again(client):
    UserFactory(username="olivia")
    for round_ in range(2):
        for n in range(LIMIT - 1):
            assert attempt(client, LOGIN, "olivia", f"wrong-{round_}-{n}").status_code == 200
        assert attempt(client, LOGIN, "olivia", PASSWORD).status_code == 302
        client.logout()


def test_a_locked_username_is_locked_from_every_address(client):
    UserFactory(username="olivia")
    for n in range(LIMIT):
        attempt(client, LOGIN, "olivia", f"wrong-{n}", address=f"203.0.113.{n}")

    assert attempt(client, LOGIN, "olivia", PASSWORD, address="192.0.2.200").status_code == 429


def test_one_address_trying_many_usernames_is_locked_for_all_of_them(client):
    UserFactory(username="olivia")
    for n in range(LIMIT):
        attempt(client, LOGIN, f"guess{n}", "wrong", address="198.51.100.66")

    assert attempt(client, LOGIN, "olivia", PASSWORD, address="198.51.100.66").status_code == 429
    assert attempt(client, LOGIN, "olivia", PASSWORD, address="198.51.100.67").status_code == 302


def test_behind_trusted_proxies_the_client_address_is_the_one_the_audit_trail_records(
    client, settings
):
    settings.AUDIT_TRUSTED_PROXIES = 1
    UserFactory(username="olivia")
    for n in range(LIMIT):
        # The attacker varies what it sends in X-Forwarded-For; our proxy appends the real address.
        forwarded = f"10.9.9.{n}, 198.51.100.66"
        attempt(
            client, LOGIN, f"guess{n}", "wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
        )

    locked = attempt(
        client, LOGIN, "olivia", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66"
    )
    other_client = attempt(
        client, LOGIN, "olivia", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.67"
    )

    assert locked.status_code == 429
    assert other_client.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.66"}


def test_failed_logins_never_store_the_password(client):
    attempt(client, LOGIN, "olivia", "typed-secret-Pw-7731")
    stored = AccessAttempt.objects.get()
    assert "typed-secret-Pw-7731" not in f"{stored.post_data} {stored.get_data}"


def test_an_operator_unlocks_a_username_in_the_admin(client):
    UserFactory(username="olivia")
    for n in range(LIMIT):
        attempt(client, LOGIN, "olivia", f"wrong-{n}")
    assert attempt(client, LOGIN, "olivia", PASSWORD).status_code == 429

    operator = UserFactory(username="root", is_staff=True)
    operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_accessattempt", "delete_accessattempt"])
    )
    operator_client = type(client)()
    operator_client.force_login(operator)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert "olivia" in operator_client.get(changelist).text
    attempts = list(AccessAttempt.objects.filter(username="olivia").values_list("pk", flat=True))
    operator_client.post(
        changelist, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    )

    assert attempt(client, LOGIN, "olivia", PASSWORD).status_code == 302
