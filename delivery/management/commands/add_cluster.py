"""`add_cluster NAME (--kubeconfig FILE | --in-cluster) [--default]`: add a cluster that
organizations can be placed on. The kubeconfig is read once and stored encrypted."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from delivery.errors import parse_kubeconfig
from delivery.models import Cluster
from delivery.services import cluster_add
from orgsettings.management.commands.create_org import _describe


class Command(BaseCommand):
    help = "Add a cluster to deliver image-pull Secrets to."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="A short name: lower-case letters, digits, hyphens.")
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--kubeconfig", metavar="FILE", help="A kubeconfig file for the cluster.")
        how.add_argument(
            "--in-cluster",
            action="store_true",
            help="Use the ServiceAccount of the pod the platform runs in.",
        )
        parser.add_argument(
            "--default", action="store_true", help="Place new organizations on this cluster."
        )

    def handle(
        self, *args, name: str, kubeconfig: str | None, in_cluster: bool, default: bool, **options
    ) -> None:
        text = ""
        if kubeconfig is not None:
            path = Path(kubeconfig)
            try:
                text = path.read_text()
            except FileNotFoundError:
                raise CommandError(f"No kubeconfig file at {kubeconfig}.") from None
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or "not a text file"
                raise CommandError(f"Cannot read the kubeconfig {kubeconfig}: {reason}.") from None
            try:
                parse_kubeconfig(text)
            except ValueError as error:
                raise CommandError(f"The kubeconfig {kubeconfig} is not usable: {error}.") from None
        if Cluster.objects.filter(name=name).exists():
            raise CommandError(f"A cluster named “{name}” already exists.")
        try:
            cluster = cluster_add(
                name=name,
                connection=Cluster.Connection.IN_CLUSTER
                if in_cluster
                else Cluster.Connection.KUBECONFIG,
                kubeconfig=text,
                is_default=default,
            )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        suffix = ", the default for new organizations" if cluster.is_default else ""
        self.stdout.write(f"Added cluster “{cluster.name}”{suffix}.")
