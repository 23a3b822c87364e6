from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import deploy_settings, production_settings

        checks.register(production_settings)
        checks.register(deploy_settings, checks.Tags.security, deploy=True)
