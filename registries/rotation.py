"""Re-encrypting every stored secret under the current CRYPTOGRAPHY_KEY.

Used by `manage.py rotate_encryption_key` and by the migration that moved stored credentials
from django-cryptography's format to Fernet tokens. The secrets are found through the app
registry: every model field that is an `EncryptedTextField` (registry passwords and tokens,
cluster kubeconfigs, whatever a later app stores), so no app has to be named here. It works on
the raw column values, in batches that each commit on their own, so an interrupted run is
resumed by running it again: rows the current key already reads are skipped. Rotation changes
no secret, so it bumps no version, records no audit event and schedules no cluster sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, transaction

from . import encryption

BATCH_SIZE = 200


class NothingDecryptsError(Exception):
    """No configured key reads any stored secret: a wrong key, so nothing was written."""


class VerificationError(Exception):
    """A rewritten row did not read back as the value it held: its batch was rolled back."""


@dataclass(frozen=True)
class EncryptedTable:
    """One model's table: its encrypted columns, and the column naming the key that wrote them."""

    name: str  # what the command's report calls the rows, e.g. "container registries"
    table: str
    pk: str
    columns: tuple[str, ...]
    key_id_column: str | None = None

    def _sql(self, sql: str) -> str:
        quote = connection.ops.quote_name
        return sql.format(
            table=quote(self.table),
            pk=quote(self.pk),
            columns=", ".join(quote(column) for column in self.columns),
            written=", ".join(quote(column) for column in self._written),
            assignments=", ".join(f"{quote(column)} = %s" for column in self._written),
            unchanged=" AND ".join(f"{quote(column)} = %s" for column in self.columns),
        )

    @property
    def _written(self) -> tuple[str, ...]:
        return self.columns + ((self.key_id_column,) if self.key_id_column else ())


# The registries' table as the migration to Fernet tokens found it (no key identifier yet).
REGISTRY_CREDENTIALS_BEFORE_KEY_ID = EncryptedTable(
    name="container registries",
    table="registries_containerregistry",
    pk="id",
    columns=("password", "token"),
)


def encrypted_tables() -> list[EncryptedTable]:
    """Every installed model that stores an `EncryptedTextField`, in a stable order."""
    tables = []
    for model in sorted(apps.get_models(), key=lambda model: model._meta.label):
        fields = model._meta.concrete_fields
        columns = tuple(f.column for f in fields if isinstance(f, encryption.EncryptedTextField))
        if not columns or model._meta.proxy or not model._meta.managed:
            continue
        key_ids = [f.column for f in fields if isinstance(f, encryption.EncryptionKeyIdField)]
        tables.append(
            EncryptedTable(
                name=str(model._meta.verbose_name_plural),
                table=model._meta.db_table,
                pk=model._meta.pk.column,
                columns=columns,
                key_id_column=key_ids[0] if key_ids else None,
            )
        )
    return tables


@dataclass
class RotationReport:
    name: str
    rows: int = 0
    rewritten: int = 0
    current: int = 0
    unreadable: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    pk: int
    values: list[bytes]
    key_id: str | None


def _raw_rows(table: EncryptedTable, after: int, limit: int) -> list[_Row]:
    with connection.cursor() as cursor:
        cursor.execute(
            table._sql(
                "SELECT {pk}, {written} FROM {table} WHERE {pk} > %s ORDER BY {pk} LIMIT %s"
            ),
            [after, limit],
        )
        width = len(table.columns)
        return [
            _Row(
                pk=row[0],
                values=[bytes(value) for value in row[1 : 1 + width]],
                key_id=row[1 + width] if table.key_id_column else None,
            )
            for row in cursor.fetchall()
        ]


def _batches(table: EncryptedTable, batch_size: int) -> Iterator[list[_Row]]:
    after = 0
    while rows := _raw_rows(table, after, batch_size):
        yield rows
        after = rows[-1].pk


def _is_current(table: EncryptedTable, row: _Row) -> bool:
    if table.key_id_column and row.key_id != encryption.current_key_id():
        return False
    return all(encryption.is_current(value) for value in row.values)


def survey(tables: list[EncryptedTable] | None = None) -> list[RotationReport]:
    """What a rotation would do, writing nothing (`--dry-run`, and the check before writing)."""
    reports = []
    for table in encrypted_tables() if tables is None else tables:
        report = RotationReport(name=table.name)
        for rows in _batches(table, BATCH_SIZE):
            for row in rows:
                report.rows += 1
                if _is_current(table, row):
                    report.current += 1
                elif any(encryption.is_unreadable(encryption.decrypt(v)) for v in row.values):
                    report.unreadable.append(row.pk)
                else:
                    report.rewritten += 1
        reports.append(report)
    return reports


def rotate(
    *,
    tables: list[EncryptedTable] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[RotationReport], None] | None = None,
) -> list[RotationReport]:
    """Rewrite every row the current key does not read yet; rows no key reads stay as they are.

    Raises NothingDecryptsError, before writing anything, when there are stored secrets and no
    configured key reads any of them.
    """
    tables = encrypted_tables() if tables is None else tables
    before = survey(tables)
    rows = sum(report.rows for report in before)
    if rows and sum(len(report.unreadable) for report in before) == rows:
        raise NothingDecryptsError(
            f"No configured key decrypts any of the {rows} stored secrets: "
            "CRYPTOGRAPHY_KEY is probably wrong. Nothing was written."
        )
    return [_rotate_table(table, batch_size, progress) for table in tables]


def _rotate_table(
    table: EncryptedTable, batch_size: int, progress: Callable[[RotationReport], None] | None
) -> RotationReport:
    report = RotationReport(name=table.name)
    for rows in _batches(table, batch_size):
        with transaction.atomic():
            for row in rows:
                report.rows += 1
                if _is_current(table, row):
                    report.current += 1
                    continue
                plain = [encryption.decrypt(value) for value in row.values]
                if any(encryption.is_unreadable(value) for value in plain):
                    report.unreadable.append(row.pk)
                    continue
                _rewrite(table, row.pk, row.values, plain)
                report.rewritten += 1
        if progress is not None:
            progress(report)
    return report


def _rewrite(table: EncryptedTable, pk: int, stored: list[bytes], plain: list[str]) -> None:
    fresh = [encryption.encrypt(value) for value in plain]
    if table.key_id_column:
        fresh.append(encryption.current_key_id())
    with connection.cursor() as cursor:
        # Only if nobody saved the row since it was read (a save writes the current key anyway).
        cursor.execute(
            table._sql("UPDATE {table} SET {assignments} WHERE {pk} = %s AND {unchanged}"),
            [*fresh, pk, *stored],
        )
        if cursor.rowcount == 0:
            return
        cursor.execute(table._sql("SELECT {columns} FROM {table} WHERE {pk} = %s"), [pk])
        written = [bytes(value) for value in cursor.fetchone()]
    readable = all(encryption.is_current(value) for value in written)
    if not readable or [encryption.decrypt(value) for value in written] != plain:
        raise VerificationError(
            f"{table.name.capitalize()} {pk} did not read back as it was: nothing was changed."
        )
