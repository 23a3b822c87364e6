from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("orgs/<slug:slug>/settings/", views.settings_general, name="settings-general"),
    path("orgs/<slug:slug>/settings/registries/", include("registries.urls")),
    path("orgs/<slug:slug>/settings/registries/delivery/", include("delivery.urls")),
    path("orgs/<slug:slug>/settings/registries/pull-health/", include("pullhealth.urls")),
    path("orgs/<slug:slug>/settings/activity/", views.settings_activity, name="settings-activity"),
    path("admin/", admin.site.urls),
]

handler400 = "orgsettings.errors.bad_request"
handler403 = "orgsettings.errors.permission_denied"
handler404 = "orgsettings.errors.page_not_found"
