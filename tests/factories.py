"""factory_boy factories for the suite's users, organizations, memberships, registries, and
delivery clusters and targets."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from delivery.models import Cluster, DeliveryTarget, TargetStatus
from orgsettings.models import Membership, Organization, Role
from registries.models import AuthType, ContainerRegistry

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org{n}")
    name = factory.LazyAttribute(lambda o: f"Organization {o.slug}")
    namespace = factory.LazyAttribute(lambda o: f"org-{o.slug}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.ADMIN


class RegistryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContainerRegistry

    organization = factory.SubFactory(OrganizationFactory)
    display_name = factory.Sequence(lambda n: f"Registry {n}")
    address = factory.Sequence(lambda n: f"registry{n}.example.com")
    auth_type = AuthType.BASIC
    username = "robot"
    password = factory.Sequence(lambda n: f"stored-password-{n}")
    token = ""


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"cluster{n}")
    connection = Cluster.Connection.IN_CLUSTER


class DeliveryTargetFactory(factory.django.DjangoModelFactory):
    """A delivery target in the state a test sets, as the delivery worker would leave it."""

    class Meta:
        model = DeliveryTarget

    organization = factory.SubFactory(OrganizationFactory)
    cluster = factory.SubFactory(ClusterFactory)
    namespace = factory.LazyAttribute(lambda t: t.organization.namespace)
    status = TargetStatus.SYNCED
