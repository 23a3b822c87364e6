"""`place_org SLUG CLUSTER [--namespace NS]`: deliver an organization to a cluster too."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from delivery.models import Cluster
from delivery.services import organization_place
from orgsettings.management.commands.create_org import _describe
from orgsettings.models import Organization


def organization_and_cluster(slug: str, cluster_name: str) -> tuple[Organization, Cluster]:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"No organization with slug “{slug}”.")
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        known = ", ".join(Cluster.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(f"No cluster named “{cluster_name}” (clusters: {known}).")
    return organization, cluster


class Command(BaseCommand):
    help = "Place an organization on a cluster: its image-pull Secret is delivered there."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("cluster")
        parser.add_argument("--namespace", help="Namespace there (default: the organization's).")

    def handle(self, *args, slug: str, cluster: str, namespace: str | None, **options) -> None:
        organization, cluster_row = organization_and_cluster(slug, cluster)
        try:
            target = organization_place(organization, cluster=cluster_row, namespace=namespace)
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        self.stdout.write(
            f"Placed {organization.slug} on {cluster_row.name}, namespace {target.namespace}."
        )
