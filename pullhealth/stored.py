"""What the page shows of pull health: the stored state of an organization, per registry.

Reads only the database (the worker and the reconciler wrote it), in two queries whatever the
number of registries, clusters or failures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from orgsettings.models import Organization

from .causes import Cause
from .models import PullFailure, PullHealth

NOT_PERMITTED = "forbidden"


@dataclass
class RegistryPullHealth:
    """The failures pulled with one registry (registry_id None: with no registry at all)."""

    registry_id: int | None
    failures: list[PullFailure] = field(default_factory=list)

    @property
    def workloads(self) -> int:
        """Failing workloads, each counted once per cluster whatever its images."""
        return len(
            {
                (f.health.target.cluster_id, f.namespace, f.workload_kind, f.workload_name)
                for f in self.failures
            }
        )

    @property
    def causes(self) -> list[Cause]:
        """The causes among the failures, the most frequent first."""
        counts = Counter(Cause(f.cause) for f in self.failures)
        return [cause for cause, _ in counts.most_common()]


@dataclass
class OrganizationPullHealth:
    """Each target's stored PullHealth (with its cluster) and its failures by registry."""

    healths: list[PullHealth]
    by_registry: dict[int | None, RegistryPullHealth]

    def for_registry(self, registry_id: int | None) -> RegistryPullHealth:
        return self.by_registry.get(registry_id) or RegistryPullHealth(registry_id)

    @property
    def unmatched(self) -> RegistryPullHealth:
        """Failing images whose host matches no registry ("no registry matches")."""
        return self.for_registry(None)

    @property
    def read_at(self) -> datetime | None:
        """The oldest last read among the clusters (the age to show); None before any."""
        reads = [h.read_at for h in self.healths if h.read_at is not None]
        return min(reads) if reads else None

    @property
    def not_permitted(self) -> list[PullHealth]:
        """Targets whose pods RBAC does not let us read: "pull health not available: not
        permitted"."""
        return [h for h in self.healths if h.error_kind == NOT_PERMITTED]

    @property
    def unavailable(self) -> list[PullHealth]:
        """Targets whose last read failed for any reason (error_kind, error)."""
        return [h for h in self.healths if h.error_kind]


def pull_health_for_organization(organization: Organization) -> OrganizationPullHealth:
    """The stored pull health of the organization, in two queries."""
    healths = list(
        PullHealth.objects.filter(target__organization=organization).select_related(
            "target__cluster"
        )
    )
    by_pk = {health.pk: health for health in healths}
    by_registry: dict[int | None, RegistryPullHealth] = {}
    for failure in PullFailure.objects.filter(health__in=list(by_pk)):
        failure.health = by_pk[failure.health_id]
        by_registry.setdefault(
            failure.registry_id, RegistryPullHealth(failure.registry_id)
        ).failures.append(failure)
    return OrganizationPullHealth(healths=healths, by_registry=by_registry)
