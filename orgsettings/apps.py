from __future__ import annotations

from django.apps import AppConfig


class OrgSettingsConfig(AppConfig):
    name = "orgsettings"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"
