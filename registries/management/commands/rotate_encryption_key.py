"""`rotate_encryption_key [--dry-run]`: re-encrypt every stored credential under the current
CRYPTOGRAPHY_KEY, after moving the old key to CRYPTOGRAPHY_KEY_FALLBACKS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from registries import rotation


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored registry password and token under CRYPTOGRAPHY_KEY. Runs in "
        "batches and can be run again to resume; rows the current key already reads are skipped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be re-encrypted; write nothing."
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        if dry_run:
            report = rotation.survey()
            self.stdout.write(
                f"{report.rows} registries: {report.rewritten} to re-encrypt, "
                f"{report.current} already under the current key, "
                f"{len(report.unreadable)} that no key decrypts. Nothing was written."
            )
            self._fail_on_unreadable(report)
            return
        try:
            report = rotation.rotate(progress=self._progress)
        except rotation.NothingDecryptsError as error:
            raise CommandError(str(error)) from None
        except rotation.VerificationError as error:
            raise CommandError(f"{error} Run the command again to resume.") from None
        self.stdout.write(
            f"{report.rows} registries: {report.rewritten} re-encrypted and verified, "
            f"{report.current} already under the current key, "
            f"{len(report.unreadable)} that no key decrypts."
        )
        self._fail_on_unreadable(report)

    def _progress(self, report: rotation.RotationReport) -> None:
        self.stdout.write(f"… {report.rows} registries done", ending="\n")

    def _fail_on_unreadable(self, report: rotation.RotationReport) -> None:
        if report.unreadable:
            ids = ", ".join(str(pk) for pk in report.unreadable[:20])
            more = "…" if len(report.unreadable) > 20 else ""
            raise CommandError(
                f"{len(report.unreadable)} registries have credentials no configured key "
                f"decrypts (ids {ids}{more}): they were left as they are. Add the key they were "
                "written with to CRYPTOGRAPHY_KEY_FALLBACKS, or have their credentials entered again."
            )
