from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class RegistriesConfig(AppConfig):
    name = "registries"
    verbose_name = "Container registries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import probe_settings

        checks.register(probe_settings)
