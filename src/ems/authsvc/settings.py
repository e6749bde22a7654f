"""The Django settings of the auth service, built as a dict (there is no settings module).

Everything the service serves lives under ``/auth/``: the URL patterns carry that
prefix, so the same settings work behind uvicorn directly and mounted in the
cloud's Starlette app (see :mod:`ems.authsvc.asgi`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_ALLOWED_HOSTS", "allowed_hosts", "build_settings", "csv_env"]

#: Hosts always accepted: loopback, and Django's test client.
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")

#: Django admin sessions end after this long [s]; tokens have their own TTLs.
ADMIN_SESSION_AGE_S = 8 * 3600


def csv_env(environ: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated environment variable as a list (blank items dropped)."""
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def allowed_hosts(extra: Iterable[str] = (), environ: Mapping[str, str] = os.environ) -> list[str]:
    """Loopback names, then ``EMS_ALLOWED_HOSTS`` (comma-separated), then ``extra``."""
    hosts: list[str] = []
    for host in (*DEFAULT_ALLOWED_HOSTS, *csv_env(environ, "EMS_ALLOWED_HOSTS"), *extra):
        if host not in hosts:
            hosts.append(host)
    return hosts


def build_settings(
    *,
    secret_key: str,
    database: dict[str, Any],
    hosts: list[str],
    debug: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """Keyword arguments for ``django.conf.settings.configure``.

    ``EMS_CSRF_TRUSTED_ORIGINS`` (comma-separated ``https://host`` origins) is needed
    for admin logins through a TLS-terminating proxy; ``EMS_AUTH_SECURE_COOKIES=1``
    marks the admin's cookies ``Secure`` (set it whenever the site is served over HTTPS).
    """
    secure_cookies = environ.get("EMS_AUTH_SECURE_COOKIES", "").lower() in ("1", "true", "yes")
    return {
        "DEBUG": debug,
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": hosts,
        "CSRF_TRUSTED_ORIGINS": csv_env(environ, "EMS_CSRF_TRUSTED_ORIGINS"),
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "ems.authsvc.apps.EmsAuthConfig",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "ems.authsvc.staticfiles.AsgiWhiteNoiseMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "ems.authsvc.actions.ActorMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "ems.authsvc.urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ],
                },
            }
        ],
        "DATABASES": {"default": database},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "AUTH_USER_MODEL": "emsauth.User",
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": f"django.contrib.auth.password_validation.{name}"}
            for name in (
                "UserAttributeSimilarityValidator",
                "MinimumLengthValidator",
                "CommonPasswordValidator",
                "NumericPasswordValidator",
            )
        ],
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "USE_I18N": False,
        # Absolute, because Django caches STATIC_URL the first time it is read, and
        # the admin must link to /auth/static/ whether or not the app is mounted.
        "STATIC_URL": "/auth/static/",
        # Admin CSS/JS straight from the installed packages: no collectstatic step.
        "WHITENOISE_USE_FINDERS": True,
        # There is no site outside the admin to log in to or land on.
        "LOGIN_URL": "/auth/admin/login/",
        "LOGIN_REDIRECT_URL": "/auth/admin/",
        # The admin's cookies only go to /auth/, never to the cloud's other paths.
        "SESSION_COOKIE_NAME": "emsauth_session",
        "SESSION_COOKIE_PATH": "/auth/",
        "SESSION_COOKIE_AGE": ADMIN_SESSION_AGE_S,
        "SESSION_COOKIE_SECURE": secure_cookies,
        "CSRF_COOKIE_NAME": "emsauth_csrftoken",
        "CSRF_COOKIE_PATH": "/auth/",
        "CSRF_COOKIE_SECURE": secure_cookies,
        # Logging belongs to the process (ems.logs); Django must not reconfigure it.
        "LOGGING_CONFIG": None,
        # A token request is tiny; the admin's forms are small too [bytes].
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 256 * 1024,
    }
