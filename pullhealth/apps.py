from __future__ import annotations

from django.apps import AppConfig


class PullHealthConfig(AppConfig):
    name = "pullhealth"
    verbose_name = "Pull health"
    default_auto_field = "django.db.models.BigAutoField"
