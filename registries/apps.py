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
        from .auth_kinds import auth_kinds
        from .checks import encryption_key_settings, probe_settings
        from .ecr_refresh import REFRESH_FAILED, REFRESH_FAILED_LABEL

        checks.register(probe_settings)
        register_event_kinds(
            {REFRESH_FAILED: REFRESH_FAILED_LABEL}, field_labels={"refresh_error": "Refresh error"}
        )
        checks.register(encryption_key_settings, checks.Tags.security, deploy=True)
        # Each kind's fields are recorded by the audit trail under their labels, its secrets
        # only as "set", "changed" or "removed".
        labels, secrets = {"expires_on": "Expires on"}, set()
        for kind in auth_kinds():
            fields = kind.form_fields()
            labels.update({name: str(field.label) for name, field in fields.items()})
            secrets.update(kind.secret_fields)
        register_event_kinds(expiry.EVENT_KINDS, field_labels=labels, secret_fields=secrets)
