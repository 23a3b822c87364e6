"""What the reconciler reports about its passes, for every web replica's /metrics to read."""

from __future__ import annotations

from django.db import models


class ReconcilePass(models.Model):
    """One row: the reconciler's last full pass, and its last complete one."""

    name = models.CharField(max_length=40, unique=True, default="reconciler")
    interval_seconds = models.FloatField(default=0)
    last_finished_at = models.DateTimeField(null=True)
    # A complete pass read every cluster and went through every delivery target.
    last_complete_at = models.DateTimeField(null=True)
    duration_seconds = models.FloatField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    targets = models.PositiveIntegerField(default=0)
    failed_targets = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "reconcile pass"

    def __str__(self) -> str:
        return f"{self.name} pass at {self.last_finished_at}"
