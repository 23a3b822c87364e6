from __future__ import annotations

from django.urls import path

from . import views

app_name = "registries"

urlpatterns = [
    path("", views.registry_list, name="list"),
    path("new/", views.registry_create_view, name="create"),
    path("hints/", views.registry_hints, name="hints"),
    path("<int:pk>/edit/", views.registry_edit_view, name="edit"),
    path("<int:pk>/delete/", views.registry_delete_view, name="delete"),
]
