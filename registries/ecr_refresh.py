"""Amazon ECR tokens that refresh themselves: the refresh task, its schedule, and the sweep
that keeps one queued for every ECR registry.

A refresh mints a new token (outside any transaction: it talks to AWS), then stores it and
its expiry on the row. Saving the row requests a delivery (delivery/signals.py), so the
organization's Secret is rewritten with the new token. The next refresh is queued for half
the token's life. A refresh that fails keeps the last good token, says why on the row, is
recorded in Activity once per failure streak, and is retried with a growing delay.

Tasks are lost only with the database, but a worker can die mid-run: `ecr_refresh_ensure`,
called by every reconciler pass and when a worker starts, queues a refresh for each ECR
registry that has none waiting, so a token is never left to expire unattended.
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from .auth_kinds import Login
from .auth_kinds.ecr import AmazonECR, MintError
from .models import ContainerRegistry
from .services import registry_event_record, registry_login_issue

logger = logging.getLogger(__name__)

ECR = AmazonECR.value

REFRESH_QUEUE = "default"
REFRESH_FAILED = "registry.token_refresh_failed"
REFRESH_FAILED_LABEL = "Token refresh failed"
RETRY_BASE = datetime.timedelta(minutes=1)
RETRY_MAX = datetime.timedelta(minutes=30)
# A run claimed longer ago than this is taken as lost (a mint is bounded by its timeouts).
_RUN_LOST_AFTER = datetime.timedelta(minutes=5)


@task(queue_name=REFRESH_QUEUE)
def refresh_ecr_token(registry_id: int, attempt: int = 0) -> str:
    """Mint a new token for the ECR registry and store it (the delivery follows the save)."""
    return ecr_token_refresh(registry_id=registry_id, attempt=attempt)


def retry_delay(attempt: int) -> datetime.timedelta:
    """1, 2, 4 … minutes, at most 30: an outage is retried often enough that a token is
    replaced soon after AWS answers again, well within the half-life left."""
    return min(RETRY_BASE * 2**attempt, RETRY_MAX)


def ecr_token_refresh(
    *, registry_id: int, attempt: int = 0, now: datetime.datetime | None = None
) -> str:
    """Refresh one registry's token now; queue the next refresh (or the retry). Idempotent:
    a registry that is gone or is no longer ECR needs nothing."""
    now = now or timezone.now()
    registry = ContainerRegistry.objects.filter(pk=registry_id, auth_type=ECR).first()
    if registry is None:
        return "not an ECR registry"
    kind = registry.kind
    try:
        minted = kind.mint(registry, now=now)
    except MintError as error:
        return _failed(registry_id, error.message, attempt, now)
    with transaction.atomic():
        stored = (
            ContainerRegistry.objects.select_for_update()
            .filter(pk=registry_id, auth_type=ECR)
            .first()
        )
        if stored is None or kind.credentials(stored) != kind.credentials(registry):
            # Edited while minting: that save queued a refresh with the new keys.
            return "credentials changed while minting"
        # Bumps the version (the reconciler's sign that the Secret is behind) and requests the
        # delivery that rewrites it; "Last changed" and the trail are a person's, untouched.
        registry_login_issue(
            stored,
            login=Login(minted.username, minted.secret, minted.expires_at),
            state=kind.minted_state(minted),
        )
        _enqueue(registry_id, at=minted.refresh_at)
    logger.info("Refreshed the ECR token of registry %s.", registry_id)
    return f"refreshed; expires {minted.expires_at.isoformat()}"


def _failed(registry_id: int, message: str, attempt: int, now: datetime.datetime) -> str:
    with transaction.atomic():
        rows = ContainerRegistry.objects.filter(pk=registry_id, auth_type=ECR)
        stored = rows.select_for_update().first()
        if stored is None:
            return "not an ECR registry"
        first_of_streak = stored.kind.record_failure(stored, message, now=now)
        # .update(): a failure changes no credential, so it bumps no version and asks for no
        # delivery; the Secret keeps the last good token.
        rows.update(kind_state=stored.kind_state)
        if first_of_streak:
            registry_event_record(
                stored,
                actor=None,
                action=REFRESH_FAILED,
                changes={"refresh_error": {"old": None, "new": message}},
            )
        _enqueue(registry_id, at=now + retry_delay(attempt), attempt=attempt + 1)
    logger.warning("Refreshing the ECR token of registry %s failed: %s", registry_id, message)
    return f"failed: {message}"


def _waiting(registry_id: int, now: datetime.datetime):
    return DBTaskResult.objects.filter(
        task_path=refresh_ecr_token.module_path,
        args_kwargs__kwargs__registry_id=registry_id,
    ).filter(
        # READY, or claimed by a worker that is still within the bound of one mint.
        Q(status="READY") | Q(status="RUNNING", started_at__gte=now - _RUN_LOST_AFTER)
    )


def _enqueue(registry_id: int, *, at: datetime.datetime, attempt: int = 0) -> None:
    """Queue the registry's next refresh at `at`, replacing any other that waits (in the
    current transaction, so it commits with the change that asked for it)."""
    DBTaskResult.objects.filter(
        status="READY",
        task_path=refresh_ecr_token.module_path,
        args_kwargs__kwargs__registry_id=registry_id,
    ).delete()
    refresh_ecr_token.using(run_after=at).enqueue(registry_id=registry_id, attempt=attempt)


def ecr_refresh_request(registry: ContainerRegistry, *, now: datetime.datetime | None = None):
    """Refresh the registry's token as soon as a worker can (a save, the admin's action)."""
    _enqueue(registry.pk, at=now or timezone.now())


def ecr_refresh_ensure(*, now: datetime.datetime | None = None) -> int:
    """Queue a refresh for every ECR registry with none waiting; returns how many were queued.

    Each is due at its scheduled refresh time, or now when it has no token yet or its time
    has passed (the refresh that was due is lost).
    """
    now = now or timezone.now()
    queued = 0
    # Neither the keys nor the token are read (nor decrypted) here.
    registries = ContainerRegistry.objects.filter(auth_type=ECR).only("pk", "kind_state")
    kind = AmazonECR()
    for registry in registries.iterator():
        with transaction.atomic():
            if _waiting(registry.pk, now).exists():
                continue
            refresh_at = kind.refresh_at(registry)
            _enqueue(registry.pk, at=max(now, refresh_at) if refresh_at else now)
            queued += 1
    if queued:
        logger.info("Queued %d missing ECR token refresh(es).", queued)
    return queued


@receiver(post_save, sender=ContainerRegistry, dispatch_uid="registries.ecr_saved")
def ecr_registry_saved(sender, instance: ContainerRegistry, **kwargs) -> None:
    """A new ECR registry, or one whose AWS credentials changed, gets a token minted as soon
    as a worker can, queued in the transaction of the save."""
    if instance.auth_type == ECR and instance.kind.needs_mint(instance):
        ecr_refresh_request(instance)
