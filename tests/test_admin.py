"""The operators' admin: organizations, registries and the audit trail."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from delivery.models import Cluster, DeliveryTarget, TargetStatus
from orgsettings.audit import audit_record
from orgsettings.models import AuditAction, AuditEvent, Membership, Organization, Role
from registries.models import AuthType, ContainerRegistry
from registries.services import registry_update

from .factories import MembershipFactory, OrganizationFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD_SECRET = "pw-Ad1min-Scan-Secret-48c1"
NEW_PASSWORD_SECRET = "pw-Ad1min-New-Secret-93de"
TOKEN_SECRET = "tok-Ad1min-Scan-Secret-e71b"
REJECTED_SECRET = "pw-Ad1min-Rejected-Secret-5a0f"
SECRETS = (PASSWORD_SECRET, NEW_PASSWORD_SECRET, TOKEN_SECRET, REJECTED_SECRET)

REGISTRIES = "admin:registries_containerregistry"
ORGANIZATIONS = "admin:orgsettings_organization"
EVENTS = "admin:orgsettings_auditevent"


def _url(name: str, *args) -> str:
    return reverse(name, args=args)


def _staff(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


VIEW_PERMISSIONS = (
    "view_organization",
    "view_membership",
    "view_containerregistry",
    "view_auditevent",
)
REGISTRY_PERMISSIONS = (
    "add_containerregistry",
    "change_containerregistry",
    "delete_containerregistry",
)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def viewer_client(client):
    client.force_login(_staff(*VIEW_PERMISSIONS))
    return client


@pytest.fixture
def operator(db):
    return _staff(*VIEW_PERMISSIONS, *REGISTRY_PERMISSIONS, "change_registry_credentials")


def _registry_data(registry: ContainerRegistry | None = None, **overrides) -> dict:
    data = {
        "display_name": registry.display_name if registry else "GitHub packages",
        "address": registry.address if registry else "ghcr.io",
        "auth_type": registry.auth_type if registry else AuthType.BASIC,
        "username": registry.username if registry else "octocat",
        "password": "",
        "token": "",
        "version": registry.version if registry else "",
    }
    if registry is None:
        data["organization"] = overrides.pop("organization").pk
    return {**data, **overrides}


def _organization_data(organization: Organization, rows: list[dict], **overrides) -> dict:
    """The organization's change form with its membership rows (id, user, role, DELETE)."""
    initial = sum(1 for row in rows if row.get("id"))
    data = {
        "name": organization.name,
        "slug": organization.slug,
        "namespace": organization.namespace,
        "memberships-TOTAL_FORMS": len(rows),
        "memberships-INITIAL_FORMS": initial,
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"memberships-{index}-{key}"] = value
    return {**data, **overrides}


def _membership_row(membership: Membership, **overrides) -> dict:
    return {
        "id": membership.pk,
        "user": membership.user_id,
        "role": membership.role,
        **overrides,
    }


def _query_count(client, url: str) -> int:
    client.get(url)  # warm-up: sessions, content types
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# --- organizations ---------------------------------------------------------------------------


def _target(organization, status=TargetStatus.SYNCED, cluster="eu-west", error=""):
    cluster, _ = Cluster.objects.get_or_create(name=cluster, defaults={"connection": "in-cluster"})
    return DeliveryTarget.objects.create(
        organization=organization,
        cluster=cluster,
        namespace=organization.namespace,
        status=status,
        error=error,
    )


def test_organization_list_shows_members_registries_and_failing_targets(superuser_client):
    organization = OrganizationFactory(name="Acme")
    MembershipFactory.create_batch(3, organization=organization)
    RegistryFactory.create_batch(3, organization=organization)
    _target(organization, TargetStatus.ERROR)
    _target(organization, cluster="us-east")

    response = superuser_client.get(_url(f"{ORGANIZATIONS}_changelist"))

    row = response.context["cl"].result_list.get(pk=organization.pk)
    assert (row.member_count, row.registry_count, row.failing_targets) == (3, 3, 1)
    assert "1 failing" in response.text


def test_organization_without_errors_reads_no_errors(superuser_client):
    _target(RegistryFactory().organization)

    response = superuser_client.get(_url(f"{ORGANIZATIONS}_changelist"))

    assert "No errors" in response.text


def test_organization_search_finds_by_namespace(superuser_client):
    OrganizationFactory(slug="acme", namespace="team-blue")
    OrganizationFactory(slug="other", namespace="team-red")

    response = superuser_client.get(_url(f"{ORGANIZATIONS}_changelist"), {"q": "team-blue"})

    assert [o.slug for o in response.context["cl"].result_list] == ["acme"]


def test_organization_list_queries_do_not_grow_with_rows(superuser_client):
    url = _url(f"{ORGANIZATIONS}_changelist")
    RegistryFactory(organization=MembershipFactory().organization)
    one = _query_count(superuser_client, url)
    for _ in range(19):
        organization = RegistryFactory(organization=MembershipFactory().organization).organization
        _target(organization, TargetStatus.ERROR)

    assert _query_count(superuser_client, url) == one


def test_namespace_change_saves_through_the_model_and_is_audited(superuser_client):
    organization = OrganizationFactory(namespace="old-ns")
    saved = []

    def receiver(sender, instance, **kwargs):
        saved.append(instance.namespace)

    post_save.connect(receiver, sender=Organization)
    try:
        response = superuser_client.post(
            _url(f"{ORGANIZATIONS}_change", organization.pk),
            _organization_data(organization, [], namespace="new-ns"),
            REMOTE_ADDR="192.0.2.77",
        )
    finally:
        post_save.disconnect(receiver, sender=Organization)

    assert response.status_code == 302
    assert saved == ["new-ns"]
    event = AuditEvent.objects.get(action=AuditAction.ORGANIZATION_UPDATED)
    assert event.changes == {"namespace": {"old": "old-ns", "new": "new-ns"}}
    assert event.ip == "192.0.2.77"


def test_organization_added_in_admin_is_audited(superuser_client, superuser):
    response = superuser_client.post(
        _url(f"{ORGANIZATIONS}_add"),
        _organization_data(Organization(name="New Co", slug="newco", namespace="org-newco"), []),
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.ORGANIZATION_CREATED)
    assert (event.organization.slug, event.actor) == ("newco", superuser)


def test_inline_adds_a_member_through_the_service(superuser_client, superuser):
    organization, bob = OrganizationFactory(), UserFactory(username="bob")

    superuser_client.post(
        _url(f"{ORGANIZATIONS}_change", organization.pk),
        _organization_data(organization, [{"id": "", "user": bob.pk, "role": Role.ADMIN}]),
    )

    assert Membership.objects.get(organization=organization, user=bob).role == Role.ADMIN
    event = AuditEvent.objects.get(action=AuditAction.MEMBERSHIP_ADDED)
    assert (event.actor, event.target_label) == (superuser, "bob")


def test_inline_role_change_is_audited(superuser_client):
    membership = MembershipFactory(role=Role.MEMBER)

    superuser_client.post(
        _url(f"{ORGANIZATIONS}_change", membership.organization_id),
        _organization_data(membership.organization, [_membership_row(membership, role="owner")]),
    )

    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    event = AuditEvent.objects.get(action=AuditAction.MEMBERSHIP_ROLE_CHANGED)
    assert event.changes == {"role": {"old": "member", "new": "owner"}}


def test_inline_removal_is_audited(superuser_client):
    membership = MembershipFactory(user__username="carol")

    superuser_client.post(
        _url(f"{ORGANIZATIONS}_change", membership.organization_id),
        _organization_data(membership.organization, [_membership_row(membership, DELETE="on")]),
    )

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.get(action=AuditAction.MEMBERSHIP_REMOVED).target_label == "carol"


def test_inline_pointing_a_row_at_another_user_removes_and_adds(superuser_client):
    membership = MembershipFactory(user__username="carol")
    dave = UserFactory(username="dave")

    superuser_client.post(
        _url(f"{ORGANIZATIONS}_change", membership.organization_id),
        _organization_data(membership.organization, [_membership_row(membership, user=dave.pk)]),
    )

    assert list(membership.organization.memberships.values_list("user__username", flat=True)) == [
        "dave"
    ]
    assert set(AuditEvent.objects.values_list("action", "target_label")) == {
        (AuditAction.MEMBERSHIP_REMOVED, "carol"),
        (AuditAction.MEMBERSHIP_ADDED, "dave"),
    }


def test_organization_deleted_in_admin_keeps_its_trail(superuser_client):
    registry = RegistryFactory(organization__slug="doomed")
    organization = registry.organization

    superuser_client.post(_url(f"{ORGANIZATIONS}_delete", organization.pk), {"post": "yes"})

    assert not Organization.objects.filter(pk=organization.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.ORGANIZATION_DELETED)
    assert (event.organization, event.organization_slug) == (None, "doomed")


# --- registries: the list --------------------------------------------------------------------


def test_registry_list_filters_by_auth_type_and_organization(superuser_client):
    wanted = RegistryFactory(auth_type=AuthType.TOKEN, password="", token="t-1")
    RegistryFactory(organization=wanted.organization)
    RegistryFactory(auth_type=AuthType.TOKEN, password="", token="t-2")

    response = superuser_client.get(
        _url(f"{REGISTRIES}_changelist"),
        {"auth_type__exact": "Token", "organization__id__exact": wanted.organization_id},
    )

    assert list(response.context["cl"].result_list) == [wanted]


def test_registry_search_finds_by_organization_name(superuser_client):
    wanted = RegistryFactory(organization__name="Umbrella Corp")
    RegistryFactory(organization__name="Acme")

    response = superuser_client.get(_url(f"{REGISTRIES}_changelist"), {"q": "umbrella"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_registry_list_queries_do_not_grow_with_rows(superuser_client):
    url = _url(f"{REGISTRIES}_changelist")
    RegistryFactory()
    one = _query_count(superuser_client, url)
    RegistryFactory.create_batch(19)

    assert _query_count(superuser_client, url) == one


def test_audit_list_queries_do_not_grow_with_rows(superuser_client):
    url = _url(f"{EVENTS}_changelist")
    RegistryFactory()
    _record_event(OrganizationFactory())
    one = _query_count(superuser_client, url)
    for _ in range(19):
        _record_event(OrganizationFactory(), actor=UserFactory())

    assert _query_count(superuser_client, url) == one


# --- registries: editing ---------------------------------------------------------------------


def test_registry_added_in_admin_goes_through_the_service(superuser_client, superuser):
    organization = OrganizationFactory()

    response = superuser_client.post(
        _url(f"{REGISTRIES}_add"),
        _registry_data(organization=organization, password=PASSWORD_SECRET),
        REMOTE_ADDR="192.0.2.5",
    )

    assert response.status_code == 302
    registry = ContainerRegistry.objects.get()
    assert (registry.organization, registry.password) == (organization, PASSWORD_SECRET)
    assert (registry.created_by, registry.updated_by) == (superuser, superuser)
    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_CREATED)
    assert (event.actor, event.ip) == (superuser, "192.0.2.5")
    assert LogEntry.objects.get().object_id == str(registry.pk)


def test_registry_admin_normalizes_the_address_like_the_settings_form(superuser_client):
    superuser_client.post(
        _url(f"{REGISTRIES}_add"),
        _registry_data(
            organization=OrganizationFactory(),
            address="https://index.docker.io/v1/",
            password=PASSWORD_SECRET,
        ),
    )

    assert ContainerRegistry.objects.get().address == "docker.io"


def test_registry_admin_refuses_a_duplicate_display_name_in_the_organization(superuser_client):
    existing = RegistryFactory(display_name="GitHub")

    response = superuser_client.post(
        _url(f"{REGISTRIES}_add"),
        _registry_data(
            organization=existing.organization, display_name="github", password=PASSWORD_SECRET
        ),
    )

    assert response.status_code == 200
    assert "already has a registry with this Display Name" in response.text
    assert ContainerRegistry.objects.count() == 1


def test_registry_admin_allows_the_same_display_name_in_another_organization(superuser_client):
    RegistryFactory(display_name="GitHub")

    response = superuser_client.post(
        _url(f"{REGISTRIES}_add"),
        _registry_data(
            organization=OrganizationFactory(), display_name="GitHub", password=PASSWORD_SECRET
        ),
    )

    assert response.status_code == 302


def test_registry_admin_requires_a_password_for_a_new_basic_registry(superuser_client):
    response = superuser_client.post(
        _url(f"{REGISTRIES}_add"), _registry_data(organization=OrganizationFactory())
    )

    assert "BasicAuth needs a password." in response.text
    assert not ContainerRegistry.objects.exists()


def test_registry_edit_with_blank_password_keeps_stored_secret(superuser_client):
    registry = RegistryFactory(password=PASSWORD_SECRET)

    response = superuser_client.post(
        _url(f"{REGISTRIES}_change", registry.pk),
        _registry_data(registry, display_name="Renamed"),
    )

    assert response.status_code == 302
    registry.refresh_from_db()
    assert (registry.display_name, registry.password) == ("Renamed", PASSWORD_SECRET)


def test_registry_edit_with_new_password_stores_it_and_audits_only_the_fact(superuser_client):
    registry = RegistryFactory(password=PASSWORD_SECRET)

    superuser_client.post(
        _url(f"{REGISTRIES}_change", registry.pk),
        _registry_data(registry, password=NEW_PASSWORD_SECRET),
    )

    registry.refresh_from_db()
    assert registry.password == NEW_PASSWORD_SECRET
    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_UPDATED)
    assert event.changes == {"password": {"secret": "changed"}}


def test_registry_change_form_never_renders_the_stored_secret(superuser_client):
    registry = RegistryFactory(password=PASSWORD_SECRET)

    content = superuser_client.get(_url(f"{REGISTRIES}_change", registry.pk)).text

    assert 'name="password"' in content
    assert PASSWORD_SECRET not in content


def test_registry_edit_based_on_an_old_version_is_refused(superuser_client):
    registry = RegistryFactory(display_name="Before")
    stale = _registry_data(registry, display_name="Mine")
    registry_update(registry, actor=None, expected_version=None, display_name="Theirs")

    response = superuser_client.post(_url(f"{REGISTRIES}_change", registry.pk), stale)

    assert "changed by someone else" in response.text
    registry.refresh_from_db()
    assert registry.display_name == "Theirs"


def test_registry_deleted_in_admin_goes_through_the_service(superuser_client, superuser):
    registry = RegistryFactory(display_name="Old mirror")

    superuser_client.post(_url(f"{REGISTRIES}_delete", registry.pk), {"post": "yes"})

    assert not ContainerRegistry.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_DELETED)
    assert (event.actor, event.target_label) == (superuser, "Old mirror")


def test_registries_deleted_in_bulk_are_each_audited(superuser_client):
    registries = RegistryFactory.create_batch(3)

    superuser_client.post(
        _url(f"{REGISTRIES}_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [r.pk for r in registries],
            "post": "yes",
        },
    )

    assert not ContainerRegistry.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.REGISTRY_DELETED).count() == 3


# --- who may change what ---------------------------------------------------------------------


def test_view_only_staff_see_the_registry_list(viewer_client):
    RegistryFactory(display_name="Visible")

    response = viewer_client.get(_url(f"{REGISTRIES}_changelist"))

    assert response.status_code == 200
    assert "Visible" in response.text


def test_view_only_staff_see_a_registry_without_its_secret(viewer_client):
    registry = RegistryFactory(password=PASSWORD_SECRET)

    response = viewer_client.get(_url(f"{REGISTRIES}_change", registry.pk))

    content = response.text
    assert response.status_code == 200
    assert "A password is stored (never shown)." in content
    assert PASSWORD_SECRET not in content
    assert 'name="password"' not in content


def test_view_only_staff_cannot_change_a_registry(viewer_client):
    registry = RegistryFactory(password=PASSWORD_SECRET)

    response = viewer_client.post(
        _url(f"{REGISTRIES}_change", registry.pk),
        _registry_data(registry, password=NEW_PASSWORD_SECRET),
    )

    assert response.status_code == 403
    registry.refresh_from_db()
    assert registry.password == PASSWORD_SECRET


def test_view_only_staff_cannot_add_or_delete_registries(viewer_client):
    registry = RegistryFactory()

    assert viewer_client.get(_url(f"{REGISTRIES}_add")).status_code == 403
    assert (
        viewer_client.post(_url(f"{REGISTRIES}_delete", registry.pk), {"post": "yes"}).status_code
        == 403
    )
    assert ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_staff_with_change_permission_but_not_credentials_cannot_change(client):
    client.force_login(_staff(*VIEW_PERMISSIONS, *REGISTRY_PERMISSIONS))
    registry = RegistryFactory(password=PASSWORD_SECRET)

    response = client.post(
        _url(f"{REGISTRIES}_change", registry.pk),
        _registry_data(registry, password=NEW_PASSWORD_SECRET),
    )

    assert response.status_code == 403
    registry.refresh_from_db()
    assert registry.password == PASSWORD_SECRET


def test_staff_with_the_credentials_permission_can_change(client, operator):
    client.force_login(operator)
    registry = RegistryFactory(password=PASSWORD_SECRET)

    response = client.post(
        _url(f"{REGISTRIES}_change", registry.pk),
        _registry_data(registry, password=NEW_PASSWORD_SECRET),
    )

    assert response.status_code == 302
    registry.refresh_from_db()
    assert registry.password == NEW_PASSWORD_SECRET


# --- actions ---------------------------------------------------------------------------------


def test_deliver_action_on_organizations_brings_them_to_the_cluster(
    superuser_client, cluster, organization
):
    from .deliveries import run_tasks

    run_tasks()
    RegistryFactory(organization=organization)
    cluster.delete_object("secrets", "org-acme", "org-registry-credentials")

    response = superuser_client.post(
        _url(f"{ORGANIZATIONS}_changelist"),
        {"action": "deliver_now", "_selected_action": [organization.pk]},
        follow=True,
    )

    assert "Delivery queued for 1 organization:" in response.text
    assert DeliveryTarget.objects.get().status == TargetStatus.PENDING
    run_tasks()
    assert cluster.get_object("secrets", "org-acme", "org-registry-credentials") is not None
    assert DeliveryTarget.objects.get().status == TargetStatus.SYNCED


def test_view_only_staff_cannot_run_the_deliver_action(viewer_client, cluster, organization):
    from .deliveries import queued, run_tasks

    run_tasks()
    viewer_client.post(
        _url(f"{ORGANIZATIONS}_changelist"),
        {"action": "deliver_now", "_selected_action": [organization.pk]},
    )

    assert queued() == []
    assert DeliveryTarget.objects.get().status == TargetStatus.SYNCED


# --- the audit trail in the admin ------------------------------------------------------------


def _record_event(organization, *, actor=None, action="delivery.failed"):
    return audit_record(
        organization,
        actor=actor,
        action=action,
        target_type="registry",
        target_id=1,
        target_label="Harbor",
        changes={"sync_status": {"old": "synced", "new": "error"}},
    )


def test_audit_events_are_read_only_in_the_admin(superuser_client):
    event = _record_event(OrganizationFactory())

    assert superuser_client.get(_url(f"{EVENTS}_add")).status_code == 403
    assert superuser_client.get(_url(f"{EVENTS}_change", event.pk)).status_code == 200
    assert superuser_client.post(_url(f"{EVENTS}_change", event.pk), {}).status_code == 403
    assert (
        superuser_client.post(_url(f"{EVENTS}_delete", event.pk), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.count() == 1


def test_audit_list_offers_no_delete_action(superuser_client):
    _record_event(OrganizationFactory())

    response = superuser_client.get(_url(f"{EVENTS}_changelist"))

    assert "delete_selected" not in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"organization_slug": "acme"}, ["acme"]),
        ({"actor_label": "system"}, ["other"]),
        ({"action__exact": AuditAction.SYNC_RECOVERED}, ["acme"]),
    ],
)
def test_audit_list_filters(superuser_client, query, expected):
    _record_event(
        OrganizationFactory(slug="acme"),
        actor=UserFactory(username="olga"),
        action=AuditAction.SYNC_RECOVERED,
    )
    _record_event(OrganizationFactory(slug="other"))

    response = superuser_client.get(_url(f"{EVENTS}_changelist"), query)

    assert [e.organization_slug for e in response.context["cl"].result_list] == expected


def test_audit_list_filters_by_date(superuser_client):
    event = _record_event(OrganizationFactory())
    day = event.created_at

    response = superuser_client.get(
        _url(f"{EVENTS}_changelist"),
        {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day},
    )

    assert list(response.context["cl"].result_list) == [event]


# --- nothing ever shows a secret -------------------------------------------------------------


def test_no_admin_page_contains_a_secret(superuser_client):
    basic = RegistryFactory(display_name="Basic", password=PASSWORD_SECRET)
    organization = basic.organization
    token = RegistryFactory(
        organization=organization,
        display_name="Tokened",
        auth_type=AuthType.TOKEN,
        password="",
        token=TOKEN_SECRET,
    )
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    pages = []

    def visit(method, url, data=None, **extra):
        response = getattr(superuser_client, method)(url, data or {}, **extra)
        pages.append((f"{method.upper()} {url}", response))
        return response

    # Changes through the admin, so that history pages and the trail have entries.
    edited = visit(
        "post",
        _url(f"{REGISTRIES}_change", basic.pk),
        _registry_data(basic, password=NEW_PASSWORD_SECRET),
    )
    assert edited.status_code == 302
    # A refused save: the form comes back with errors, and must not carry the typed secret.
    refused = visit(
        "post",
        _url(f"{REGISTRIES}_change", token.pk),
        _registry_data(token, display_name="basic", token=REJECTED_SECRET),
    )
    assert refused.status_code == 200
    visit(
        "post",
        _url(f"{REGISTRIES}_add"),
        _registry_data(organization=organization, address="bad address", password=REJECTED_SECRET),
    )
    for registry in (basic, token):
        visit("get", _url(f"{REGISTRIES}_change", registry.pk))
        visit("get", _url(f"{REGISTRIES}_history", registry.pk))
        visit("get", _url(f"{REGISTRIES}_delete", registry.pk))
    visit("get", _url(f"{REGISTRIES}_changelist"))
    visit("get", _url(f"{REGISTRIES}_changelist"), {"auth_type__exact": "Token"})
    visit("get", _url(f"{REGISTRIES}_add"))
    visit(
        "post",
        _url(f"{REGISTRIES}_changelist"),
        {"action": "delete_selected", "_selected_action": [basic.pk, token.pk]},
    )
    visit("get", _url(f"{ORGANIZATIONS}_changelist"))
    visit("get", _url(f"{ORGANIZATIONS}_change", organization.pk))
    visit("get", _url(f"{ORGANIZATIONS}_history", organization.pk))
    visit("get", _url(f"{ORGANIZATIONS}_delete", organization.pk))
    visit("get", _url(f"{ORGANIZATIONS}_add"))
    visit("get", _url(f"{EVENTS}_changelist"))
    for event in AuditEvent.objects.all():
        visit("get", _url(f"{EVENTS}_change", event.pk))
    superuser_client.force_login(owner.user)
    visit("get", reverse("settings-activity", kwargs={"slug": organization.slug}))

    assert len(pages) > 20
    for page, response in pages:
        assert response.status_code in (200, 302), page
        content = response.text
        for secret in SECRETS:
            assert secret not in content, f"{page} shows a secret"
    for entry in LogEntry.objects.all():
        assert not any(secret in entry.change_message for secret in SECRETS)


# The "Test connection" action, against the real test registry


def test_test_connection_action_reports_each_row(superuser_client, local_registry, connections):
    from .registry_server import PASSWORD, USERNAME

    good = RegistryFactory(
        display_name="Good", address=local_registry, username=USERNAME, password=PASSWORD
    )
    bad = RegistryFactory(
        display_name="Bad",
        address=f"{local_registry}/team",
        username=USERNAME,
        password="wrong-pass-canary-3321",
    )
    response = superuser_client.post(
        _url(f"{REGISTRIES}_changelist"),
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    text = response.text
    assert f"Good ({local_registry}): ✓" in text
    assert "Bad" in text
    assert "wrong-pass-canary-3321" not in text
    assert PASSWORD not in text
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith(f"{good.organization.slug} / Good") and "Basic" in m for m in messages)
    assert any(m.startswith(f"{bad.organization.slug} / Bad") and "✕" in m for m in messages)
