from __future__ import annotations

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery to clusters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from orgsettings.audit import register_event_kinds

        from . import outcomes, services, signals  # noqa: F401
        from .checks import rbac_scope_settings

        checks.register(rbac_scope_settings)

        register_event_kinds(
            {
                **outcomes.EVENT_KINDS,
                services.PLACED: "Placed on a cluster",
                services.UNPLACED: "Removed from a cluster",
            },
            field_labels=outcomes.FIELD_LABELS,
        )
