"""Re-encrypting every stored credential under the current CRYPTOGRAPHY_KEY.

Used by `manage.py rotate_encryption_key` and by the migration that moved stored credentials
from django-cryptography's format to Fernet tokens. It works on the raw column values, in
batches that each commit on their own, so an interrupted run is resumed by running it again:
rows the current key already reads are skipped. Rotation changes no credential, so it bumps no
version, records no audit event and schedules no cluster sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from . import encryption

BATCH_SIZE = 200
_TABLE = "registries_containerregistry"
# Every encrypted column of the table. The migration to Fernet runs this before the later ones
# existed: only the columns the table has are read.
_COLUMNS = ("password", "token", "secrets", "issued_login")


def _columns() -> tuple[str, ...]:
    with connection.cursor() as cursor:
        present = {c.name for c in connection.introspection.get_table_description(cursor, _TABLE)}
    return tuple(column for column in _COLUMNS if column in present)


class NothingDecryptsError(Exception):
    """No configured key reads any stored credential: a wrong key, so nothing was written."""


class VerificationError(Exception):
    """A rewritten row did not read back as the value it held: its batch was rolled back."""


@dataclass
class RotationReport:
    rows: int = 0
    rewritten: int = 0
    current: int = 0
    unreadable: list[int] | None = None

    def __post_init__(self) -> None:
        self.unreadable = [] if self.unreadable is None else self.unreadable


def _raw_rows(columns: tuple[str, ...], after: int, limit: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(columns)} FROM {_TABLE} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
            [after, limit],
        )
        return [(pk, *(bytes(value) for value in values)) for pk, *values in cursor.fetchall()]


def _batches(batch_size: int) -> Iterator[list[tuple]]:
    after = 0
    columns = _columns()
    while rows := _raw_rows(columns, after, batch_size):
        yield rows
        after = rows[-1][0]


def survey() -> RotationReport:
    """What a rotation would do, writing nothing (`--dry-run`, and the check before writing)."""
    report = RotationReport()
    for rows in _batches(BATCH_SIZE):
        for pk, *values in rows:
            report.rows += 1
            if all(encryption.is_current(value) for value in values):
                report.current += 1
            elif any(encryption.is_unreadable(encryption.decrypt(value)) for value in values):
                report.unreadable.append(pk)
            else:
                report.rewritten += 1
    return report


def rotate(
    *, batch_size: int = BATCH_SIZE, progress: Callable[[RotationReport], None] | None = None
) -> RotationReport:
    """Rewrite every row the current key does not read yet; rows no key reads stay as they are.

    Raises NothingDecryptsError, before writing anything, when there are stored credentials and
    no configured key reads any of them.
    """
    before = survey()
    if before.rows and before.unreadable and len(before.unreadable) == before.rows:
        raise NothingDecryptsError(
            f"No configured key decrypts any of the {before.rows} stored credentials: "
            "CRYPTOGRAPHY_KEY is probably wrong. Nothing was written."
        )
    report = RotationReport()
    for rows in _batches(batch_size):
        with transaction.atomic():
            for pk, *stored in rows:
                report.rows += 1
                if all(encryption.is_current(value) for value in stored):
                    report.current += 1
                    continue
                plain = [encryption.decrypt(value) for value in stored]
                if any(encryption.is_unreadable(value) for value in plain):
                    report.unreadable.append(pk)
                    continue
                _rewrite(pk, stored, plain)
                report.rewritten += 1
        if progress is not None:
            progress(report)
    return report


def _rewrite(pk: int, stored: list[bytes], plain: list[str]) -> None:
    fresh = [encryption.encrypt(value) for value in plain]
    # The values come in _columns()' order, which is _COLUMNS' (later migrations add to its end).
    columns = _COLUMNS[: len(stored)]
    assignments = ", ".join(f"{column} = %s" for column in columns)
    unchanged = " AND ".join(f"{column} = %s" for column in columns)
    with connection.cursor() as cursor:
        # Only if nobody saved the row since it was read (a save writes the current key anyway).
        cursor.execute(
            f"UPDATE {_TABLE} SET {assignments} WHERE id = %s AND {unchanged}",  # noqa: S608
            [*fresh, pk, *stored],
        )
        if cursor.rowcount == 0:
            return
        cursor.execute(f"SELECT {', '.join(columns)} FROM {_TABLE} WHERE id = %s", [pk])  # noqa: S608
        written = [bytes(value) for value in cursor.fetchone()]
    readable = all(encryption.is_current(value) for value in written)
    if not readable or [encryption.decrypt(value) for value in written] != plain:
        raise VerificationError(f"Registry {pk} did not read back as it was: nothing was changed.")
