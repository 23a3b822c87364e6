# Stored credentials move from django-cryptography's format (its HMAC keyed with SECRET_KEY) to
# Fernet tokens under CRYPTOGRAPHY_KEY; see registries/encryption.py. Rows no key reads stay.

from django.db import migrations


def to_fernet(apps, schema_editor):
    from registries import rotation

    rotation.rotate(tables=[rotation.REGISTRY_CREDENTIALS_BEFORE_KEY_ID])


class Migration(migrations.Migration):

    dependencies = [
        ('registries', '0002_registry_credentials_permission'),
    ]

    operations = [
        migrations.RunPython(to_fernet, migrations.RunPython.noop, elidable=True),
    ]
