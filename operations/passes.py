"""The reconciler's pass figures, kept in the database so that every web replica's /metrics
reports them (the reconciler serves no HTTP)."""

from __future__ import annotations

from django.utils import timezone

from .models import ReconcilePass


def record_pass(
    *,
    complete: bool,
    duration: float,
    api_calls: int,
    targets: int,
    failed: int,
    interval: float,
) -> None:
    """Store one full pass (not a pass limited to one organization). Complete: it read every
    cluster and went through every delivery target."""
    now = timezone.now()
    values = {
        "last_finished_at": now,
        "duration_seconds": duration,
        "api_calls": api_calls,
        "targets": targets,
        "failed_targets": failed,
        "interval_seconds": interval,
    }
    if complete:
        values["last_complete_at"] = now
    ReconcilePass.objects.update_or_create(name="reconciler", defaults=values)
