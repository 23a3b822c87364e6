"""What the Settings page shows of an organization's delivery: read-only, from stored state.

The page never asks a cluster anything: it reads the delivery targets (one query) and derives
each registry's state from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import DeliveryTarget, TargetStatus


@dataclass(frozen=True)
class RegistryDelivery:
    """One registry's state across the organization's targets."""

    status: str  # "synced", "pending", "error", or "not_delivered" (no target at all)
    holding: list[DeliveryTarget] = field(default_factory=list)
    failing: list[DeliveryTarget] = field(default_factory=list)
    waiting: list[DeliveryTarget] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.holding) + len(self.failing) + len(self.waiting)

    @property
    def synced_at(self):
        """When the last of the targets holding the entry received it."""
        return max((t.synced_at for t in self.holding if t.synced_at), default=None)

    @property
    def error(self) -> str:
        """The failing clusters and what went wrong, e.g. "eu-west: The cluster is unreachable." """
        return " · ".join(f"{t.cluster.name}: {t.error}" for t in self.failing)


@dataclass(frozen=True)
class OrganizationDelivery:
    targets: list[DeliveryTarget]

    @property
    def configured(self) -> bool:
        return bool(self.targets)

    @property
    def pending(self) -> bool:
        return any(t.status in (TargetStatus.PENDING, TargetStatus.REMOVING) for t in self.targets)

    def for_registry(self, registry_id: int, version: int) -> RegistryDelivery:
        if not self.targets:
            return RegistryDelivery(status="not_delivered")
        holding, failing, waiting = [], [], []
        for target in self.targets:
            if target.status == TargetStatus.REMOVING:
                continue
            if target.holds(registry_id, version):
                holding.append(target)
            elif target.status == TargetStatus.ERROR:
                failing.append(target)
            else:
                waiting.append(target)
        status = "error" if failing else "pending" if waiting else "synced"
        return RegistryDelivery(status=status, holding=holding, failing=failing, waiting=waiting)


def organization_delivery(organization) -> OrganizationDelivery:
    targets = list(
        DeliveryTarget.objects.filter(organization=organization)
        .select_related("cluster")
        # The page names clusters; their kubeconfigs stay encrypted in the database.
        .defer("cluster__kubeconfig")
    )
    return OrganizationDelivery(targets=targets)
