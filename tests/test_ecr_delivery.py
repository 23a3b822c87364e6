"""Amazon ECR end to end: a registry added on the Settings page gets a token minted by the
task queue, delivered in the organization's Secret on the fake API server, replaced by the next
refresh before it expires, and kept when a refresh fails. The AWS keys and the minted tokens
never appear in a page, a log, an error, a task result or the audit trail."""

from __future__ import annotations

import base64
import datetime
import json
import logging

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from delivery.reconcile import reconcile
from orgsettings.models import AuditEvent
from registries import connection_test, ecr_refresh
from registries.models import ContainerRegistry

from .aws import ACCESS_KEY_ID, HOST, SECRET_ACCESS_KEY
from .deliveries import run_tasks
from .keyring import credentials_for
from .test_delivery import secret_config

pytestmark = pytest.mark.django_db

IMAGE = f"{HOST}/team/api:1.4"


def ecr_form(**overrides) -> dict:
    return {
        "display_name": "Production ECR",
        "address": HOST,
        "auth_type": "ECR",
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
        "aws_region": "",
        "aws_role_arn": "",
        **overrides,
    }


def add_on_the_page(client, organization, owner, **overrides) -> ContainerRegistry:
    client.force_login(owner)
    response = client.post(
        reverse("registries:create", kwargs={"slug": organization.slug}), ecr_form(**overrides)
    )
    assert response.status_code in (200, 302), response.text
    return ContainerRegistry.objects.get(organization=organization, address=HOST)


def delivered(cluster) -> dict:
    [entry] = credentials_for(secret_config(cluster), IMAGE)
    return entry


def next_refresh(registry) -> DBTaskResult:
    return DBTaskResult.objects.get(
        status="READY",
        task_path=ecr_refresh.refresh_ecr_token.module_path,
        args_kwargs__kwargs__registry_id=registry.pk,
    )


def hours_pass_until_the_refresh(registry) -> DBTaskResult:
    """The refresh queued for later is due: the worker's clock is the real one, so the task is
    brought forward instead of the clock."""
    task = next_refresh(registry)
    DBTaskResult.objects.filter(pk=task.pk).update(run_after=timezone.now())
    return task


def test_an_ecr_registry_reaches_the_secret_with_a_minted_token(
    client, cluster, organization, owner, aws
):
    registry = add_on_the_page(client, organization, owner)
    assert registry.options["aws_region"] == "eu-west-1"  # filled in from the address

    run_tasks()

    registry.refresh_from_db()
    entry = delivered(cluster)
    assert entry["username"] == "AWS"
    assert entry["password"] == registry.login_secret != ""
    assert registry.issued_expires_at > timezone.now() + datetime.timedelta(hours=11)


def test_the_next_refresh_replaces_the_token_before_it_expires(
    client, cluster, organization, owner, aws
):
    registry = add_on_the_page(client, organization, owner)
    run_tasks()
    registry.refresh_from_db()
    first, first_expiry = delivered(cluster)["password"], registry.issued_expires_at
    # Half-way through the token's life, well before it expires.
    due = next_refresh(registry).run_after
    assert due <= first_expiry - datetime.timedelta(hours=6)

    hours_pass_until_the_refresh(registry)
    run_tasks()

    second = delivered(cluster)["password"]
    registry.refresh_from_db()
    assert second != first
    assert second == registry.login_secret
    assert next_refresh(registry).run_after > timezone.now() + datetime.timedelta(hours=5)


def test_a_failed_refresh_keeps_the_last_good_token_and_shows_the_failure(
    client, cluster, organization, owner, aws
):
    registry = add_on_the_page(client, organization, owner)
    run_tasks()
    token = delivered(cluster)["password"]
    aws.deny_all()

    hours_pass_until_the_refresh(registry)
    run_tasks()

    assert delivered(cluster)["password"] == token
    registry.refresh_from_db()
    expiry = registry.kind.expiry(registry, now=timezone.now() + datetime.timedelta(hours=9))
    assert expiry.text == "token expires in 3 h; refresh failed: access denied"
    assert expiry.state == "soon"
    [event] = AuditEvent.objects.filter(action=ecr_refresh.REFRESH_FAILED)
    assert event.target_label == "Production ECR"
    # Retried soon, not in 6 hours.
    assert next_refresh(registry).run_after < timezone.now() + datetime.timedelta(minutes=5)
    page = client.get(reverse("registries:list", kwargs={"slug": organization.slug}))
    assert "refresh failed: access denied" in page.text


def test_the_reconciler_queues_a_refresh_that_was_lost(client, cluster, organization, owner, aws):
    registry = add_on_the_page(client, organization, owner)
    run_tasks()
    next_refresh(registry).delete()

    reconcile()

    assert next_refresh(registry).run_after > timezone.now() + datetime.timedelta(hours=5)


def test_keys_and_tokens_never_appear_in_pages_logs_errors_or_the_trail(
    client, cluster, organization, owner, aws, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    registry = add_on_the_page(client, organization, owner)
    run_tasks()
    hours_pass_until_the_refresh(ContainerRegistry.objects.get(pk=registry.pk))
    run_tasks()
    registry.refresh_from_db()
    tokens = {registry.login_secret}
    slug = {"slug": organization.slug}
    pages = [
        client.get(reverse("registries:list", kwargs=slug)),
        client.get(reverse("registries:edit", kwargs=slug | {"pk": registry.pk})),
        client.post(
            reverse("registries:edit", kwargs=slug | {"pk": registry.pk}),
            ecr_form(display_name="", version=registry.version),
        ),
        client.post(reverse("registries:create", kwargs=slug), ecr_form(address="ecr.example")),
        client.post(reverse("registries:test", kwargs=slug), ecr_form(address="ecr.example")),
    ]
    aws.deny_all()
    hours_pass_until_the_refresh(registry)
    run_tasks()
    report = connection_test.check_login(ContainerRegistry.objects.get(pk=registry.pk))
    assert report.title == "Credentials rejected"
    assert report.message == (
        "AWS gave no registry token: access denied. The registry was not contacted."
    )
    registry.refresh_from_db()
    tokens.add(registry.login_secret)

    forbidden = {SECRET_ACCESS_KEY}
    for token in tokens:
        forbidden |= {token, base64.b64encode(f"AWS:{token}".encode()).decode()}
    texts = [page.text for page in pages]
    texts.append(caplog.text)
    texts.append(report.message)
    texts.append(json.dumps(list(AuditEvent.objects.values()), default=str))
    texts.append(json.dumps(list(DBTaskResult.objects.values()), default=str))
    for text in texts:
        for secret in forbidden:
            assert secret not in text
