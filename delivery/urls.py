from __future__ import annotations

from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("poll/", views.delivery_poll, name="poll"),
    path("sync/", views.delivery_sync, name="sync"),
]
