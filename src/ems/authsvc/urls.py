"""URL patterns. Every path starts with ``auth/``: the public URLs are the Django URLs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from ems.authsvc import views

__all__ = ["urlpatterns"]

urlpatterns = [
    path("auth/token", views.token, name="emsauth-token"),
    path("auth/token/refresh", views.token_refresh, name="emsauth-token-refresh"),
    path("auth/logout", views.logout, name="emsauth-logout"),
    path("auth/jwks.json", views.jwks, name="emsauth-jwks"),
    path("auth/edge-keys/check", views.edge_key_check, name="emsauth-edge-key-check"),
    path("auth/healthz", views.healthz, name="emsauth-healthz"),
    path("auth/admin/", admin.site.urls),
]
