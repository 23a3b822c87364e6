"""Asking for a restart from the page: one task row in the request's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from orgsettings.models import AuditSource
from pullhealth import tasks
from pullhealth.services import request_restart

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def restart_rows():
    return DBTaskResult.objects.filter(
        status="READY", task_path=tasks.restart_workloads.module_path
    )


def test_a_restart_request_queues_one_task_for_the_worker(organization, owner):
    registry = RegistryFactory(organization=organization)
    DBTaskResult.objects.all().delete()

    request_restart(organization, registry=registry, actor=owner, source=AuditSource.SETTINGS)

    (row,) = restart_rows()
    kwargs = row.args_kwargs["kwargs"]
    assert kwargs.pop("requested_at")
    assert kwargs == {
        "organization_id": organization.pk,
        "registry_id": registry.pk,
        "actor_id": owner.pk,
        "source": "settings",
    }


def test_a_double_click_queues_the_restart_once(organization, owner):
    request_restart(organization, actor=owner, source=AuditSource.SETTINGS)
    request_restart(organization, actor=owner, source=AuditSource.SETTINGS)

    assert restart_rows().count() == 1


def test_a_rolled_back_request_queues_nothing(organization, owner):
    def ask_then_fail():
        with transaction.atomic():
            request_restart(organization, actor=owner, source=AuditSource.SETTINGS)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        ask_then_fail()

    assert not restart_rows().exists()


def test_a_registry_of_another_organization_is_refused(organization, owner):
    other = RegistryFactory(organization=OrganizationFactory(slug="other"))

    with pytest.raises(ValueError, match="another organization"):
        request_restart(organization, registry=other, actor=owner, source=AuditSource.SETTINGS)

    assert not restart_rows().exists()
