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
_COLUMNS = ("password", "token")


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


def _raw_rows(after: int, limit: int) -> list[tuple[int, bytes, bytes]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, password, token FROM {_TABLE} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
            [after, limit],
        )
        return [(pk, bytes(password), bytes(token)) for pk, password, token in cursor.fetchall()]


def _batches(batch_size: int) -> Iterator[list[tuple[int, bytes, bytes]]]:
    after = 0
    while rows := _raw_rows(after, batch_size):
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
    with connection.cursor() as cursor:
        # Only if nobody saved the row since it was read (a save writes the current key anyway).
        cursor.execute(
            f"UPDATE {_TABLE} SET password = %s, token = %s "  # noqa: S608
            "WHERE id = %s AND password = %s AND token = %s",
            [*fresh, pk, *stored],
        )
        if cursor.rowcount == 0:
            return
        cursor.execute(f"SELECT password, token FROM {_TABLE} WHERE id = %s", [pk])  # noqa: S608
        written = [bytes(value) for value in cursor.fetchone()]
    readable = all(encryption.is_current(value) for value in written)
    if not readable or [encryption.decrypt(value) for value in written] != plain:
        raise VerificationError(f"Registry {pk} did not read back as it was: nothing was changed.")
