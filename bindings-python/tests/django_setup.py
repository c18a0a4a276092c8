"""Configures Django once per test process (no project: settings in-process)."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="django_urls",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    django.setup()
