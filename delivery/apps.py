from __future__ import annotations

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery to clusters"
    default_auto_field = "django.db.models.BigAutoField"
