# Each registry keeps the identifier of the key that encrypted its credentials, so the list can
# mark a row that no configured key reads without decrypting anything. Existing rows are given the
# identifier of the configured key that reads them ("" when none does: the row shows as unreadable).

from django.db import migrations

import registries.encryption


def fill_key_ids(apps, schema_editor):
    from registries import encryption

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, password, token FROM registries_containerregistry")
        rows = cursor.fetchall()
        for pk, password, token in rows:
            key_id = encryption.key_id_reading([bytes(password), bytes(token)])
            cursor.execute(
                "UPDATE registries_containerregistry SET credentials_key_id = %s WHERE id = %s",
                [key_id, pk],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("registries", "0005_auth_kinds_and_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="containerregistry",
            name="credentials_key_id",
            field=registries.encryption.EncryptionKeyIdField(),
        ),
        migrations.RunPython(fill_key_ids, migrations.RunPython.noop, elidable=True),
    ]
