from __future__ import annotations

from django.apps import AppConfig


class PullHealthConfig(AppConfig):
    name = "pullhealth"
    verbose_name = "Pull health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orgsettings.audit import register_event_kinds

        from . import restart

        register_event_kinds(restart.EVENT_KINDS, field_labels=restart.FIELD_LABELS)
