from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class RegistriesConfig(AppConfig):
    name = "registries"
    verbose_name = "Container registries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orgsettings.audit import register_event_kinds

        from . import expiry
        from .auth_kinds import register_audit_fields
        from .checks import auth_kind_settings, encryption_key_settings, probe_settings
        from .ecr_refresh import REFRESH_FAILED, REFRESH_FAILED_LABEL

        checks.register(probe_settings)
        checks.register(auth_kind_settings)
        register_event_kinds(
            {REFRESH_FAILED: REFRESH_FAILED_LABEL}, field_labels={"refresh_error": "Refresh error"}
        )
        checks.register(encryption_key_settings, checks.Tags.security, deploy=True)
        register_event_kinds(expiry.EVENT_KINDS)
        register_audit_fields()
