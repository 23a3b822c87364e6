"""System checks for delivery's settings: a combination that cannot work in any cluster fails
`manage.py check` (and migrate, which deployments run) instead of every delivery."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error


def rbac_scope_settings(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.REGISTRY_RBAC_SCOPE == "namespaced" and settings.REGISTRY_CREATE_NAMESPACES:
        return [
            Error(
                "REGISTRY_CREATE_NAMESPACES=true cannot work with REGISTRY_RBAC_SCOPE=namespaced: "
                "creating a namespace needs a cluster-wide grant, which that scope does not "
                "have, and a namespace the platform created would have no Role for it yet.",
                hint="Set REGISTRY_CREATE_NAMESPACES=false and have namespace provisioning create "
                "each organization's namespace with deploy/namespace-rbac.yaml in it, or use "
                "REGISTRY_RBAC_SCOPE=cluster.",
                id="delivery.E001",
            )
        ]
    return []
