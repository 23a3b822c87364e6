"""WSGI entry point for production servers (gunicorn: see gunicorn.conf.py)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgsettings.settings")

application = get_wsgi_application()

# A missing static manifest or an empty ALLOWED_HOSTS would fail every request: refuse to start.
from operations.checks import refuse_to_start  # noqa: E402

refuse_to_start()
