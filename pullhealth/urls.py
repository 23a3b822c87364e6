from __future__ import annotations

from django.urls import path

from . import views

app_name = "pullhealth"

urlpatterns = [
    path("poll/", views.pull_health_poll, name="poll"),
    path("restart/", views.restart_organization_view, name="restart"),
    path("<int:pk>/restart/", views.restart_registry_view, name="restart-registry"),
    path("automatic/", views.auto_restart_view, name="automatic"),
]
