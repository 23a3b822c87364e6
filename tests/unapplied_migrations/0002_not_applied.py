"""A migration that no test database has applied: what /readyz sees during an upgrade, before
the migrations Job ran."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("operations", "0001_initial")]
    operations = []
