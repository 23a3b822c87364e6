"""`rotate_encryption_key [--dry-run]`: re-encrypt every stored secret (registry credentials,
cluster kubeconfigs) under the current CRYPTOGRAPHY_KEY, after moving the old key to
CRYPTOGRAPHY_KEY_FALLBACKS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from registries import rotation


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (registry passwords and tokens, cluster kubeconfigs) "
        "under CRYPTOGRAPHY_KEY. Runs in batches and can be run again to resume; rows the current "
        "key already reads are skipped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be re-encrypted; write nothing."
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        if dry_run:
            reports = rotation.survey()
            for report in reports:
                self.stdout.write(
                    f"{report.rows} {report.name}: {report.rewritten} to re-encrypt, "
                    f"{report.current} already under the current key, "
                    f"{len(report.unreadable)} that no key decrypts."
                )
            self.stdout.write("Nothing was written.")
            self._fail_on_unreadable(reports)
            return
        try:
            reports = rotation.rotate(progress=self._progress)
        except rotation.NothingDecryptsError as error:
            raise CommandError(str(error)) from None
        except rotation.VerificationError as error:
            raise CommandError(f"{error} Run the command again to resume.") from None
        for report in reports:
            self.stdout.write(
                f"{report.rows} {report.name}: {report.rewritten} re-encrypted and verified, "
                f"{report.current} already under the current key, "
                f"{len(report.unreadable)} that no key decrypts."
            )
        self._fail_on_unreadable(reports)

    def _progress(self, report: rotation.RotationReport) -> None:
        self.stdout.write(f"… {report.rows} {report.name} done", ending="\n")

    def _fail_on_unreadable(self, reports: list[rotation.RotationReport]) -> None:
        problems = []
        for report in reports:
            if report.unreadable:
                ids = ", ".join(str(pk) for pk in report.unreadable[:20])
                more = "…" if len(report.unreadable) > 20 else ""
                problems.append(f"{len(report.unreadable)} {report.name} (ids {ids}{more})")
        if problems:
            raise CommandError(
                f"Stored secrets that no configured key decrypts: {'; '.join(problems)}. They were "
                "left as they are. Add the key they were written with to "
                "CRYPTOGRAPHY_KEY_FALLBACKS, or enter them again."
            )
