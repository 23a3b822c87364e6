"""`unplace_org SLUG CLUSTER`: stop delivering an organization to a cluster. A worker removes
our Secret and our ServiceAccount references there, and nothing else."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from delivery.services import organization_unplace

from .place_org import organization_and_cluster


class Command(BaseCommand):
    help = "Remove an organization from a cluster."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("cluster")

    def handle(self, *args, slug: str, cluster: str, **options) -> None:
        organization, cluster_row = organization_and_cluster(slug, cluster)
        if not organization_unplace(organization, cluster=cluster_row):
            raise CommandError(f"{organization.slug} is not placed on {cluster_row.name}.")
        self.stdout.write(
            f"Removing {organization.slug} from {cluster_row.name}: a worker deletes what the "
            "platform put there."
        )
