"""The Django app of the auth service (label ``emsauth``)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["EmsAuthConfig"]


class EmsAuthConfig(AppConfig):
    name = "ems.authsvc"
    label = "emsauth"
    verbose_name = "EMS auth"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ems.authsvc import signals

        signals.connect()
