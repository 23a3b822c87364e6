"""Amazon ECR: minting a token with boto3 against moto's server, its schedule, the refresh task
with its failures and retries, and the sweep that keeps a refresh queued for every registry."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orgsettings.models import AuditEvent
from registries import ecr_refresh
from registries.auth_kinds.ecr import (
    TOKEN_LIFETIME,
    MintError,
    mint,
    parse_host,
    token_expiry,
)
from registries.models import ContainerRegistry

from .aws import ACCESS_KEY_ID, ACCOUNT, REGION, ROLE_ARN, SECRET_ACCESS_KEY, ecr_registry

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 2, 8, 0, tzinfo=datetime.UTC)


def refreshes(registry) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            status="READY",
            task_path=ecr_refresh.refresh_ecr_token.module_path,
            args_kwargs__kwargs__registry_id=registry.pk,
        )
    )


def test_mint_gets_a_token_that_lasts_12_hours_from_the_mint_time(aws):
    minted = mint(
        access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY, region=REGION, now=NOW
    )
    assert minted.username == "AWS"
    assert minted.secret
    # moto reports a fixed date in 2015: the schedule counts from the mint time instead.
    assert minted.expires_at == NOW + datetime.timedelta(hours=12)
    assert minted.refresh_at == NOW + datetime.timedelta(hours=6)


def test_a_reported_expiry_after_the_mint_time_is_the_one_used():
    reported = NOW + datetime.timedelta(hours=11)
    assert token_expiry(reported, minted_at=NOW) == reported
    assert token_expiry(NOW - datetime.timedelta(days=1), minted_at=NOW) == NOW + TOKEN_LIFETIME


def test_mint_through_an_assumed_role(aws):
    minted = mint(
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=REGION,
        role_arn=ROLE_ARN,
        now=NOW,
    )
    assert minted.secret


def test_denied_keys_say_access_denied_and_nothing_of_the_key(aws):
    key_id, secret = aws.keys_without_permissions()
    aws.deny_all()
    with pytest.raises(MintError) as raised:
        mint(access_key_id=key_id, secret_access_key=secret, region=REGION, now=NOW)
    assert raised.value.message == "access denied"
    assert secret not in str(raised.value)
    assert key_id not in str(raised.value)
    # Raised `from None`: no traceback carries the SDK's exception along.
    assert raised.value.__suppress_context__


def test_an_unreachable_endpoint_is_a_retriable_failure(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(MintError, match="cannot reach AWS") as raised:
        mint(
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            region=REGION,
            now=NOW,
        )
    assert raised.value.retriable


@pytest.mark.parametrize(
    ("host", "parsed"),
    [
        (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", (ACCOUNT, "eu-west-1")),
        (f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com", (ACCOUNT, "us-gov-west-1")),
        (f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn", (ACCOUNT, "cn-north-1")),
        ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),
        (f"{ACCOUNT}.dkr.ecr.amazonaws.com", None),
        ("public.ecr.aws", None),
        (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com.evil.example", None),
    ],
)
def test_ecr_hosts_name_their_account_and_region(host, parsed):
    assert parse_host(host) == parsed


def test_a_new_ecr_registry_has_its_first_token_minted_by_a_queued_refresh(organization, aws):
    registry = ecr_registry(organization)
    assert registry.login_secret == ""
    assert len(refreshes(registry)) == 1

    result = ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)

    assert result.startswith("refreshed")
    registry.refresh_from_db()
    assert registry.login_username == "AWS"
    assert registry.login_secret
    assert registry.issued_expires_at == NOW + datetime.timedelta(hours=12)
    assert registry.version == 2
    [next_refresh] = refreshes(registry)
    assert next_refresh.run_after == NOW + datetime.timedelta(hours=6)


def test_a_failed_refresh_keeps_the_last_token_and_is_recorded_once_per_streak(
    organization, aws, monkeypatch
):
    registry = ecr_registry(organization)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    registry.refresh_from_db()
    token, version = registry.login_secret, registry.version
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    later = NOW + datetime.timedelta(hours=6)
    for attempt in range(3):
        ecr_refresh.ecr_token_refresh(registry_id=registry.pk, attempt=attempt, now=later)

    registry.refresh_from_db()
    assert registry.login_secret == token
    assert registry.version == version
    assert registry.kind.refresh_error(registry) == "cannot reach AWS (EndpointConnectionError)"
    expiry = registry.kind.expiry(registry, now=NOW + datetime.timedelta(hours=9))
    assert expiry.text == (
        "token expires in 3 h; refresh failed: cannot reach AWS (EndpointConnectionError)"
    )
    assert registry.kind.row_notes(registry, now=NOW) == []
    [event] = AuditEvent.objects.filter(action=ecr_refresh.REFRESH_FAILED)
    assert event.target_id == str(registry.pk)
    assert event.actor is None
    [retry] = refreshes(registry)
    assert retry.args_kwargs["kwargs"]["attempt"] == 3
    assert retry.run_after == later + datetime.timedelta(minutes=4)

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, attempt=3, now=later)
    registry.refresh_from_db()
    assert registry.login_secret != token
    assert registry.kind.refresh_error(registry) == ""
    assert registry.kind.failing_since(registry) is None


def test_retries_wait_longer_each_time_up_to_half_an_hour():
    delays = [ecr_refresh.retry_delay(attempt) for attempt in range(8)]
    assert delays == sorted(delays)
    assert delays[0] == datetime.timedelta(minutes=1)
    assert delays[-1] == datetime.timedelta(minutes=30)


def test_the_sweep_queues_a_refresh_for_a_registry_whose_refresh_was_lost(organization, aws):
    registry = ecr_registry(organization)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    DBTaskResult.objects.all().delete()

    assert ecr_refresh.ecr_refresh_ensure(now=NOW + datetime.timedelta(hours=1)) == 1
    [queued] = refreshes(registry)
    assert queued.run_after == NOW + datetime.timedelta(hours=6)
    # One is waiting now: the next sweep adds none.
    assert ecr_refresh.ecr_refresh_ensure(now=NOW + datetime.timedelta(hours=2)) == 0

    DBTaskResult.objects.all().delete()
    ecr_refresh.ecr_refresh_ensure(now=NOW + datetime.timedelta(hours=7))
    [overdue] = refreshes(registry)
    assert overdue.run_after == NOW + datetime.timedelta(hours=7)


def test_an_edit_keeps_the_token_and_new_keys_mint_one_at_once(organization, aws):
    registry = ecr_registry(organization)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    registry.refresh_from_db()
    token = registry.login_secret

    registry.kind.store(registry, {"aws_secret_access_key": None})
    registry.display_name = "Renamed"
    registry.save()
    assert ContainerRegistry.objects.get(pk=registry.pk).login_secret == token

    DBTaskResult.objects.all().delete()
    registry.kind.store(registry, {"aws_secret_access_key": "another-secret-access-key"})
    registry.save()
    # The token minted with the old key serves until one is minted with the new key, at once.
    assert ContainerRegistry.objects.get(pk=registry.pk).login_secret == token
    [due] = refreshes(registry)
    assert due.run_after < timezone.now() + datetime.timedelta(seconds=5)


def test_the_row_says_when_the_token_expires_and_when_it_is_refreshed(organization, aws):
    registry = ecr_registry(organization)
    assert registry.kind.row_notes(registry, now=NOW) == ["no token yet; minting one"]
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    registry.refresh_from_db()
    later = NOW + datetime.timedelta(hours=1)
    assert registry.kind.row_notes(registry, now=later) == [
        "token expires in 11 h; next refresh in 5 h"
    ]
    assert registry.kind.expires_at(registry) == NOW + datetime.timedelta(hours=12)


# The admin's "Refresh Amazon ECR token now"


def test_the_admin_forces_a_refresh_that_is_due_at_once(client, organization, aws):
    from .test_admin import REGISTRIES, REGISTRY_PERMISSIONS, VIEW_PERMISSIONS, _staff

    registry = ecr_registry(organization)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    client.force_login(
        _staff(*VIEW_PERMISSIONS, *REGISTRY_PERMISSIONS, "change_registry_credentials")
    )

    response = client.post(
        reverse(f"{REGISTRIES}_changelist"),
        {"action": "refresh_token", "_selected_action": [registry.pk]},
        follow=True,
    )

    assert "Queued a token refresh for 1 Amazon ECR registry" in response.text
    [due] = refreshes(registry)
    assert due.run_after < timezone.now() + datetime.timedelta(seconds=5)


def test_forcing_a_refresh_needs_the_credentials_permission(client, organization, aws):
    from .test_admin import REGISTRIES, REGISTRY_PERMISSIONS, VIEW_PERMISSIONS, _staff

    registry = ecr_registry(organization)
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    client.force_login(_staff(*VIEW_PERMISSIONS, *REGISTRY_PERMISSIONS))
    changelist = reverse(f"{REGISTRIES}_changelist")

    assert "refresh_token" not in client.get(changelist).text
    client.post(changelist, {"action": "refresh_token", "_selected_action": [registry.pk]})

    [scheduled] = refreshes(registry)
    assert scheduled.run_after == NOW + datetime.timedelta(hours=6)


def test_the_audit_trail_records_that_the_secret_access_key_changed_never_its_value(
    organization, aws
):
    from registries.services import registry_create, registry_update

    registry = registry_create(
        organization,
        actor=None,
        display_name="ECR",
        address=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
        auth_type="ECR",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        aws_region=REGION,
        aws_role_arn="",
    )
    ecr_refresh.ecr_token_refresh(registry_id=registry.pk, now=NOW)
    registry.refresh_from_db()
    token = registry.login_secret
    registry_update(
        registry,
        actor=None,
        expected_version=registry.version,
        aws_secret_access_key="a-new-secret-access-key-0042",
    )

    events = list(AuditEvent.objects.order_by("pk"))
    assert events[-1].changes["aws_secret_access_key"] == {"secret": "changed"}
    stored = json.dumps([event.changes for event in events])
    for secret in (SECRET_ACCESS_KEY, "a-new-secret-access-key-0042", token):
        assert secret not in stored


# Test connection


def test_test_connection_mints_a_token_and_logs_in_to_the_registry_with_it(
    organization, aws, local_registry
):
    from registries import connection_test

    # The real registry on loopback stands in for ECR's host; it knows no AWS token, so the
    # login it refuses is the minted one (a mint that failed would not reach it).
    registry = ecr_registry(organization)
    registry.address = local_registry

    report = connection_test.check_login(registry)

    assert report.title == "Credentials rejected"
    assert report.message.startswith(f"{local_registry} rejected these credentials.")


def test_test_connection_with_refused_keys_says_why_and_contacts_no_registry(
    organization, aws, connections
):
    from registries import connection_test

    registry = ecr_registry(organization)
    aws.deny_all()

    report = connection_test.check_login(registry)

    assert report.title == "Credentials rejected"
    assert report.message == (
        "AWS gave no registry token: access denied. The registry was not contacted."
    )
    # moto's port only: nothing went to the registry's host.
    assert {port for _, port in connections} == {int(aws.endpoint.rsplit(":", 1)[1])}


def test_test_connection_without_aws_blames_aws_not_the_registry(
    organization, aws, monkeypatch, connections
):
    from registries import connection_test

    registry = ecr_registry(organization)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    report = connection_test.check_login(registry)

    # The registry was never contacted: its headline must not say it is unreachable.
    assert report.title == "No token from AWS"
    assert report.tone == "error"
    assert report.message.startswith("AWS gave no registry token: cannot reach AWS")
    assert {port for _, port in connections} == {9}


def test_the_token_is_minted_as_the_assumed_role_of_another_account(monkeypatch, tmp_path):
    """In-process moto (mock_aws) this time: the token comes from the role's account, so the
    keys were used only to assume the role."""
    from moto import mock_aws

    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    with mock_aws():
        minted = mint(
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            region=REGION,
            role_arn="arn:aws:iam::210987654321:role/ecr-pull",
            now=NOW,
        )
    assert minted.secret.startswith("210987654321-auth-token")
    assert minted.expires_at == NOW + TOKEN_LIFETIME


@pytest.mark.parametrize(
    ("key_id", "words"),
    [
        ("AKIA", "This key ID has 4 characters: AWS access key IDs have 20"),
        ("akiaiosfodnn7example", "AWS access key IDs are capital letters and digits"),
    ],
)
def test_a_wrong_access_key_id_is_refused_with_what_is_wrong_with_it(organization, key_id, words):
    from registries.forms import RegistryForm

    form = RegistryForm(
        {
            "display_name": "ECR",
            "address": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
            "auth_type": "ECR",
            "aws_access_key_id": key_id,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        },
        organization=organization,
    )

    assert not form.is_valid()
    assert words in form.errors["aws_access_key_id"][0]
