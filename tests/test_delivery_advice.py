"""The words the Settings page uses for delivery: per registry, per cluster, and the advice."""

from __future__ import annotations

import pytest

from delivery.advice import (
    NOT_DELIVERED,
    advice,
    reason,
    registry_words,
    status_line,
    status_signature,
    words_by_registry,
)
from delivery.models import Cluster, DeliveryTarget, TargetStatus
from delivery.status import OrganizationDelivery

REGISTRY, VERSION = 7, 3


def target(cluster="eu-west", status=TargetStatus.SYNCED, holds=True, kind="", error="", pk=1):
    return DeliveryTarget(
        pk=pk,
        cluster=Cluster(name=cluster),
        namespace="org-other",
        status=status,
        error_kind=kind,
        error=error,
        delivered_versions={str(REGISTRY): VERSION} if holds else {},
    )


def words(*targets):
    return registry_words(OrganizationDelivery(list(targets)).for_registry(REGISTRY, VERSION))


# A registry's Status cell


def test_registry_held_by_every_cluster_is_synced():
    cell = words(target("eu-west"), target("us-east", pk=2))
    assert (cell.tone, cell.summary) == ("ok", "Synced")
    assert [(c.cluster, c.words) for c in cell.clusters] == [
        ("eu-west", "holds it"),
        ("us-east", "holds it"),
    ]
    assert cell.settled


def test_registry_no_cluster_holds_yet_is_pending():
    cell = words(target(status=TargetStatus.PENDING, holds=False))
    assert (cell.tone, cell.summary) == ("pending", "Pending")
    assert not cell.settled


def test_registry_held_by_one_of_two_clusters_names_the_failing_one_and_why():
    cell = words(
        target("eu-west", TargetStatus.ERROR, holds=False, kind="unreachable"),
        target("us-east", pk=2),
    )
    assert cell.tone == "error"
    assert cell.summary == "Synced on 1 of 2 clusters · eu-west: the cluster is unreachable"
    assert [(c.cluster, c.tone) for c in cell.clusters] == [("eu-west", "error"), ("us-east", "ok")]


def test_registry_waiting_on_one_of_two_clusters_says_where():
    cell = words(target("eu-west"), target("us-east", TargetStatus.PENDING, holds=False, pk=2))
    assert cell.summary == "Synced on 1 of 2 clusters · pending on us-east"


def test_registry_failing_on_its_only_cluster_says_why():
    cell = words(target(status=TargetStatus.ERROR, holds=False, kind="forbidden"))
    assert cell.summary == "Not synced · forbidden by RBAC"


def test_failing_cluster_that_still_holds_the_entry_keeps_the_registry_synced():
    # The Secret there still holds this version: pulls of this registry work.
    cell = words(target(status=TargetStatus.ERROR, holds=True, kind="unreachable"))
    assert cell.summary == "Synced"


def test_registry_without_a_cluster_is_not_delivered_without_repeating_why():
    cell = registry_words(OrganizationDelivery([]).for_registry(REGISTRY, VERSION))
    assert (cell.tone, cell.summary, cell.clusters) == ("none", "Not delivered", ())
    assert "cluster" not in cell.summary


def test_signature_changes_exactly_when_the_cell_words_change():
    pending = words(target(status=TargetStatus.PENDING, holds=False))
    assert pending.signature == words(target(status=TargetStatus.PENDING, holds=False)).signature
    assert pending.signature != words(target()).signature
    assert len(pending.signature) == 8


# The status line


def test_status_line_without_targets_says_not_delivered_once():
    line = status_line(OrganizationDelivery([]))
    assert (line.tone, line.headline, line.configured) == ("none", NOT_DELIVERED, False)
    assert NOT_DELIVERED == "Not delivered: no cluster configured"


@pytest.mark.parametrize(
    ("statuses", "tone", "headline"),
    [
        ([TargetStatus.SYNCED], "ok", "Delivered to cluster eu-west"),
        ([TargetStatus.SYNCED, TargetStatus.SYNCED], "ok", "Delivered to clusters eu-west and c2"),
        ([TargetStatus.PENDING], "pending", "Delivering to cluster eu-west…"),
        ([TargetStatus.SYNCED, TargetStatus.ERROR], "error", "Delivery to c2 failed"),
    ],
)
def test_status_line_headline_per_state(statuses, tone, headline):
    targets = [
        target("eu-west" if i == 0 else f"c{i + 1}", status, kind="timeout", pk=i + 1)
        for i, status in enumerate(statuses)
    ]
    line = status_line(OrganizationDelivery(targets))
    assert (line.tone, line.headline) == (tone, headline)


def test_status_line_gives_the_kubectl_command_for_the_secret(settings):
    settings.REGISTRY_SECRET_NAME = "org-registry-credentials"
    line = status_line(OrganizationDelivery([target()]))
    assert line.commands == ("kubectl get secret org-registry-credentials -n org-other",)


def test_status_signature_follows_the_role_and_each_targets_state():
    synced = status_line(OrganizationDelivery([target()]))
    failing = status_line(OrganizationDelivery([target(status=TargetStatus.ERROR, kind="timeout")]))
    assert status_signature(synced, can_sync=True) == status_signature(synced, can_sync=True)
    assert status_signature(synced, can_sync=True) != status_signature(synced, can_sync=False)
    assert status_signature(synced, can_sync=True) != status_signature(failing, can_sync=True)


# Advice per error kind: who can act, and what they should do


@pytest.mark.parametrize(
    ("kind", "short", "words_in_advice"),
    [
        (
            "namespace-missing",
            "namespace org-other does not exist",
            "Ask your platform operator to create namespace org-other on cluster eu-west",
        ),
        ("forbidden", "forbidden by RBAC", "lacks a permission (RBAC) on cluster eu-west"),
        ("unreachable", "the cluster is unreachable", "cannot reach cluster eu-west"),
        ("timeout", "the cluster did not answer in time", "slow to answer"),
        (
            "service-account-missing",
            "waiting for the default ServiceAccount",
            "creates the default ServiceAccount of org-other",
        ),
        (
            "not-ours",
            "a Secret of that name is not managed by the platform",
            "never overwrites what it did not create",
        ),
        ("config", "the cluster's configuration is unreadable", "fix the cluster's connection"),
        ("unauthorized", "the cluster refused the platform's credentials", "renew"),
        ("conflict", "other writers kept changing it", "other tool manages image-pull Secrets"),
        ("server-error", "the cluster answered with an error", "retries by itself"),
    ],
)
def test_each_error_kind_has_a_reason_and_advice_a_user_can_act_on(kind, short, words_in_advice):
    failing = target(status=TargetStatus.ERROR, kind=kind, error="Stored message.")
    assert reason(failing) == short
    assert words_in_advice in advice(failing)


def test_not_ours_advice_names_the_secret(settings):
    settings.REGISTRY_SECRET_NAME = "pull-creds"
    assert "A Secret named pull-creds already exists in org-other" in advice(
        target(status=TargetStatus.ERROR, kind="not-ours")
    )


def test_unknown_error_kind_falls_back_to_the_stored_message():
    failing = target(status=TargetStatus.ERROR, kind="brand-new", error="The cluster said no.")
    assert reason(failing) == "The cluster said no"
    assert advice(failing) == "Tell your platform operator, with the message above."


def test_words_by_registry_match_each_registrys_own_words():
    other = 8
    targets = [
        target("eu-west"),
        target("us-east", TargetStatus.ERROR, holds=False, kind="timeout", pk=2),
    ]
    targets[0].delivered_versions[str(other)] = 1
    delivery = OrganizationDelivery(targets)
    rows = [(REGISTRY, VERSION), (other, 1), (9, 1)]
    assert words_by_registry(delivery, rows) == {
        pk: registry_words(delivery.for_registry(pk, version)) for pk, version in rows
    }
