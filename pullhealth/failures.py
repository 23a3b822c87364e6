"""From the pods of a namespace to the pull failures the Settings page shows.

Each failure is one workload that cannot pull one image: which registry of the organization
that image is pulled with (the entry the kubelet tries first, by the same keyring the Secret is
built for), or none ("no registry matches"), and why the pull fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from registries.keyring import matching_keys, parse_image

from .causes import Cause, classify, is_bare_back_off, short_message
from .pods import PodState, ReplicaSetState, WorkloadRef, owning_workload, pull_waits


class Registry(Protocol):
    pk: int | None
    address: str


@dataclass(frozen=True)
class RegistryMatch:
    """The organization's registries whose Secret entries a node tries for an image, most
    specific first. Empty when no registry matches."""

    registries: tuple[Registry, ...]

    @property
    def registry(self) -> Registry | None:
        return self.registries[0] if self.registries else None


def registry_for_image(image: str, registries: Iterable[Registry]) -> RegistryMatch:
    by_key = {registry.address: registry for registry in registries}
    return RegistryMatch(tuple(by_key[key] for key in matching_keys(by_key, image)))


@dataclass(frozen=True)
class PullFailure:
    workload: WorkloadRef
    container: str
    init: bool
    image: str
    reason: str  # ErrImagePull or ImagePullBackOff, as the last pod read said
    cause: Cause
    message: str  # shortened, as the cluster gave it
    registry: Registry | None
    references_secret: bool
    pods: tuple[str, ...]
    # When the oldest of those pods was created: a pod newer than the Secret's content was
    # created with it, and a restart would not give it anything new.
    created_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """One failure per workload, container and image, however many pods it has."""
        return (*self.workload.key, self.container, self.image)


def read_failures(
    pods: Iterable[PodState],
    replicasets: Mapping[tuple[str, str], ReplicaSetState],
    registries: Sequence[Registry],
    *,
    secret_name: str,
    previous_causes: Mapping[tuple[str, str, str, str, str], Cause] | None = None,
) -> list[PullFailure]:
    """The pull failures among `pods`, one per workload, container and image.

    `previous_causes` (by PullFailure.key) carries a known cause across a back-off message
    that names none (clusters before Kubernetes 1.32 say only `Back-off pulling image "…"`).
    """
    previous_causes = previous_causes or {}
    failures: dict[tuple[str, str, str, str, str], PullFailure] = {}
    for pod in pods:
        waits = pull_waits(pod)
        if not waits:
            continue
        workload = owning_workload(pod, replicasets)
        references = secret_name in pod.pull_secrets
        for wait in waits:
            match = registry_for_image(wait.image, registries)
            # Credentials were offered for this image when the pod references our Secret and
            # it holds a matching entry, or when the pod brings pull Secrets of its own.
            offered = (references and match.registry is not None) or any(
                name != secret_name for name in pod.pull_secrets
            )
            key = (*workload.key, wait.container, wait.image)
            if is_bare_back_off(wait.message) and key in previous_causes:
                cause = previous_causes[key]
            elif parse_image(wait.image) is None:
                cause = Cause.OTHER
            else:
                cause = classify(wait.message, credentials_offered=offered)
            known = failures.get(key)
            if known is not None:
                failures[key] = _merge(known, pod, cause, wait.message, references)
                continue
            failures[key] = PullFailure(
                workload=workload,
                container=wait.container,
                init=wait.init,
                image=wait.image,
                reason=wait.reason,
                cause=cause,
                message=short_message(wait.message),
                registry=match.registry,
                references_secret=references,
                pods=(pod.name,),
                created_at=pod.created_at,
            )
    return sorted(failures.values(), key=lambda failure: failure.key)


def _merge(
    known: PullFailure, pod: PodState, cause: Cause, message: str, references: bool
) -> PullFailure:
    created = [t for t in (known.created_at, pod.created_at) if t is not None]
    merged = replace(
        known,
        pods=(*known.pods, pod.name),
        created_at=min(created) if created else None,
        # One pod created before the Secret was referenced is enough to need a restart.
        references_secret=known.references_secret and references,
    )
    # Pods of one workload may be at different stages; a message naming a cause wins over
    # one that does not ("other").
    if known.cause == Cause.OTHER and cause != Cause.OTHER:
        merged = replace(merged, cause=cause, message=short_message(message))
    return merged
