from __future__ import annotations

from django.urls import path

from . import views

app_name = "registries"

urlpatterns = [
    path("", views.registry_list, name="list"),
    path("new/", views.registry_create_view, name="create"),
    path("hints/", views.registry_hints, name="hints"),
    path("test/", views.registry_test_form_view, name="test"),
    path("<int:pk>/edit/", views.registry_edit_view, name="edit"),
    path("<int:pk>/delete/", views.registry_delete_view, name="delete"),
    path("<int:pk>/test/", views.registry_test_stored_view, name="test-stored"),
]
