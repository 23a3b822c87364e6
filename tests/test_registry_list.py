"""The Registries table with real amounts of data: search, filters, sort, count and pages, in a
URL that shows the same view again; and what one page costs (queries, decryption, writes)."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from orgsettings.nav import LAST_ORG_SESSION_KEY
from registries import listing
from registries.models import AuthType, ContainerRegistry

from .factories import MembershipFactory, OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def _url(organization, **params) -> str:
    base = reverse("registries:list", kwargs={"slug": organization.slug})
    if not params:
        return base
    return base + "?" + "&".join(f"{name}={value}" for name, value in params.items())


def _names(response) -> list[str]:
    return [registry.display_name for registry in response.context["registries"]]


def _registries(organization, count: int, **fields) -> list[ContainerRegistry]:
    return [
        RegistryFactory(
            organization=organization,
            display_name=f"Registry {index:03d}",
            address=f"r{index:03d}.example.com",
            **fields,
        )
        for index in range(count)
    ]


@pytest.fixture
def three(organization, owner):
    """Three registries that differ in every sortable column."""
    now = timezone.now()
    rows = [
        ("Quay robots", "quay.io", AuthType.TOKEN, 3),
        ("GitHub packages", "ghcr.io", AuthType.BASIC, 1),
        ("Harbor", "harbor.example.com:8443", AuthType.BASIC, 2),
    ]
    for name, address, auth_type, days in rows:
        registry = RegistryFactory(
            organization=organization,
            display_name=name,
            address=address,
            auth_type=auth_type,
        )
        # auto_now sets updated_at on save: set the age afterwards.
        ContainerRegistry.objects.filter(pk=registry.pk).update(
            updated_at=now - datetime.timedelta(days=days)
        )
    return rows


def test_search_matches_the_name_or_the_address(client, organization, owner, three):
    client.force_login(owner)

    assert _names(client.get(_url(organization, q="harb"))) == ["Harbor"]
    assert _names(client.get(_url(organization, q="GHCR.IO"))) == ["GitHub packages"]


def test_search_says_how_many_of_all_registries_match(client, organization, owner, three):
    client.force_login(owner)

    response = client.get(_url(organization, q="io"))

    assert "2 of 3 registries match “io”." in response.text


def test_search_without_a_match_says_so_and_offers_all(client, organization, owner, three):
    client.force_login(owner)

    response = client.get(_url(organization, q="nothing-like-this"))

    assert "No registries match" in response.text
    assert "show all 3" in response.text


def test_filters_by_auth_type(client, organization, owner, three):
    client.force_login(owner)

    assert _names(client.get(_url(organization, auth="Token"))) == ["Quay robots"]
    assert _names(client.get(_url(organization, auth="BasicAuth", q="harbor"))) == ["Harbor"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["GitHub packages", "Harbor", "Quay robots"]),
        ("-name", ["Quay robots", "Harbor", "GitHub packages"]),
        ("address", ["GitHub packages", "Harbor", "Quay robots"]),
        ("auth", ["GitHub packages", "Harbor", "Quay robots"]),
        ("-auth", ["Quay robots", "GitHub packages", "Harbor"]),
        ("changed", ["Quay robots", "Harbor", "GitHub packages"]),
        ("-changed", ["GitHub packages", "Harbor", "Quay robots"]),
    ],
)
def test_sorts_by_each_column(client, organization, owner, three, sort, expected):
    client.force_login(owner)

    assert _names(client.get(_url(organization, sort=sort))) == expected


def test_header_links_sort_and_a_second_click_reverses(client, organization, owner, three):
    client.force_login(owner)

    first = client.get(_url(organization, q="o"))
    columns = {column["key"]: column for column in first.context["listing"].columns()}
    # The current sort (by name) is marked, and its link reverses it; the others sort by them.
    assert columns["name"]["aria_sort"] == "ascending"
    assert columns["name"]["url"] == _url(organization, q="o", sort="-name")
    assert columns["auth"]["url"] == _url(organization, q="o", sort="auth")
    assert 'aria-sort="ascending"' in first.text

    reversed_ = client.get(columns["name"]["url"])
    assert _names(reversed_) == ["Quay robots", "Harbor", "GitHub packages"]
    assert reversed_.context["listing"].columns()[0]["aria_sort"] == "descending"


def test_the_url_of_a_view_shows_the_same_rows_again(client, organization, owner):
    _registries(organization, 120)
    client.force_login(owner)
    url = _url(organization, q="Registry+0", sort="-name", page=2)

    first, again = client.get(url), client.get(url)

    assert _names(first) == _names(again)
    # 000 to 099 match; sorted by name descending, page 2 starts at 049.
    assert _names(first)[0] == "Registry 049"
    assert first.context["listing"].current_url == url


def test_fifty_rows_fit_on_one_page_and_more_are_paginated(client, organization, owner):
    _registries(organization, listing.PAGE_SIZE)
    client.force_login(owner)

    response = client.get(_url(organization))
    assert len(_names(response)) == listing.PAGE_SIZE
    assert 'aria-label="Registry pages"' not in response.text

    RegistryFactory(organization=organization, display_name="Zulu")
    response = client.get(_url(organization))
    assert len(_names(response)) == listing.PAGE_SIZE
    assert 'aria-label="Registry pages"' in response.text
    assert 'href="/orgs/acme/settings/registries/?page=2"' in response.text
    assert _names(client.get(_url(organization, page=2))) == ["Zulu"]


def test_page_links_keep_the_search_and_sort(client, organization, owner):
    _registries(organization, 120)
    client.force_login(owner)

    response = client.get(_url(organization, q="Registry", sort="-name"))

    assert response.context["listing"].next_url == _url(
        organization, q="Registry", sort="-name", page=2
    )
    assert "Page 1 of 3" in response.text
    assert "120 of 120 registries match “Registry”, showing 1 to 50." in response.text
    assert "120 registries, showing 1 to 50." in client.get(_url(organization)).text


def test_a_page_past_the_end_shows_the_last_page(client, organization, owner):
    _registries(organization, 60)
    client.force_login(owner)

    assert client.get(_url(organization, page=99)).context["listing"].page.number == 2
    assert client.get(_url(organization, page="x")).context["listing"].page.number == 1


def test_an_unknown_sort_or_filter_is_reported_and_the_rest_applies(
    client, organization, owner, three
):
    client.force_login(owner)

    response = client.get(_url(organization, q="io", sort="password", auth="bogus"))

    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert _names(response) == ["GitHub packages", "Quay robots"]


def test_search_works_through_htmx_and_answers_the_table_only(client, organization, owner, three):
    client.force_login(owner)

    response = client.get(_url(organization, q="quay"), headers={"HX-Request": "true"})

    assert response.text.lstrip().startswith('<div id="registry-table"')
    assert "Quay robots" in response.text
    assert "Harbor" not in response.text
    assert response["Vary"].count("HX-Request")


def test_a_search_through_htmx_puts_the_views_own_url_in_the_address_bar(
    client, organization, owner, three
):
    client.force_login(owner)

    response = client.get(
        _url(organization, q="quay", auth="", sort="-name"),
        headers={"HX-Request": "true", "HX-Trigger": "registry-search"},
    )

    assert response["HX-Push-Url"] == _url(organization, q="quay", sort="-name")


def test_search_form_works_without_javascript(client, organization, owner, three):
    client.force_login(owner)

    text = client.get(_url(organization)).text

    form = text.split('id="registry-search"')[1].split("</form>")[0]
    assert 'method="get"' in form
    assert 'action="/orgs/acme/settings/registries/"' in form
    assert 'name="q"' in form
    assert 'hx-push-url="true"' in form
    # The sort travels with the form, from inside the table that it updates.
    assert '<select id="registry-sort" name="sort" form="registry-search"' in text


def test_a_delete_from_a_searched_list_removes_just_its_row(client, organization, owner, three):
    registry = ContainerRegistry.objects.get(display_name="Harbor")
    client.force_login(owner)
    current = "http://testserver" + _url(organization, q="harbor")

    response = client.post(
        reverse("registries:delete", kwargs={"slug": organization.slug, "pk": registry.pk}),
        headers={"HX-Request": "true", "HX-Current-URL": current},
    )

    assert response["HX-Retarget"] == f"#registry-{registry.pk}"
    assert response["HX-Reswap"] == "delete"
    assert "Deleted “Harbor”." in response.text


def test_members_can_search_too_and_see_no_controls(client, organization, member, three):
    client.force_login(member)

    response = client.get(_url(organization, q="quay"))

    assert _names(response) == ["Quay robots"]
    assert "Edit" not in response.text.split('id="registry-table"')[1]


def test_outsiders_get_404_for_a_searched_list(client, organization, outsider, three):
    client.force_login(outsider)

    assert client.get(_url(organization, q="quay", sort="-name")).status_code == 404


def test_rows_link_to_their_own_edit_delete_and_test_urls(client, organization, owner, three):
    client.force_login(owner)

    text = client.get(_url(organization)).text

    for registry in ContainerRegistry.objects.all():
        kwargs = {"slug": organization.slug, "pk": registry.pk}
        for name in ("registries:edit", "registries:delete", "registries:test-stored"):
            assert text.count(f'"{reverse(name, kwargs=kwargs)}"') == 2  # href or action + hx


def test_addresses_break_only_after_dots_colons_and_slashes(client, organization, owner):
    RegistryFactory(organization=organization, address="registry.gitlab.com:5050/team")
    client.force_login(owner)

    text = client.get(_url(organization)).text

    assert (
        "<span>registry.</span><wbr><span>gitlab.</span><wbr><span>com:</span><wbr>"
        "<span>5050/</span><wbr><span>team</span>"
    ) in text


# --- What a page costs ---------------------------------------------------------------------


@pytest.fixture
def count_decryptions(monkeypatch):
    """How often a stored password or token is decrypted (the encrypted fields' loader)."""
    field_class = type(ContainerRegistry._meta.get_field("password"))
    calls = []
    original = field_class.from_db_value

    def counting(self, value, expression, connection):
        calls.append(self.name)
        return original(self, value, expression, connection)

    monkeypatch.setattr(field_class, "from_db_value", counting)
    return calls


def test_the_list_never_decrypts_a_secret(client, organization, owner, count_decryptions):
    _registries(organization, 5)
    RegistryFactory(organization=organization, auth_type=AuthType.TOKEN, password="", token="t")
    client.force_login(owner)

    assert client.get(_url(organization)).status_code == 200
    assert client.get(_url(organization), headers={"HX-Request": "true"}).status_code == 200
    assert count_decryptions == []

    # The spy sees decryption where it happens: reading a registry whole.
    list(ContainerRegistry.objects.all())
    assert count_decryptions


def test_a_repeated_get_writes_no_session(client, organization, owner):
    _registries(organization, 3)
    client.force_login(owner)
    client.get(_url(organization))  # the first visit remembers the organization
    session = Session.objects.get()

    response = client.get(_url(organization))
    poll = client.get(_url(organization), headers={"HX-Request": "true"})

    assert Session.objects.get().expire_date == session.expire_date
    assert session_cookie(response) is None
    assert session_cookie(poll) is None


def session_cookie(response):
    return response.cookies.get(settings.SESSION_COOKIE_NAME)


def test_visiting_another_organization_still_remembers_it(client, organization, owner):
    other = OrganizationFactory(slug="other")
    MembershipFactory(organization=other, user=owner)
    client.force_login(owner)
    client.get(_url(organization))
    client.get(_url(other))

    assert client.session[LAST_ORG_SESSION_KEY] == "other"
    assert client.get("/").url == _url(other)


@pytest.mark.parametrize("rows", [1, 50, 120])
def test_queries_per_page_do_not_grow_with_the_rows(
    client, organization, owner, rows, django_assert_num_queries
):
    _registries(organization, rows, updated_by=owner)
    client.force_login(owner)
    client.get(_url(organization))  # the session's first write is not what is measured

    # Session, user, membership, the switcher's memberships, the count, the page of rows, and
    # the organization's delivery targets.
    with django_assert_num_queries(7):
        client.get(_url(organization))
    # The table alone, as htmx asks for it: no switcher.
    with django_assert_num_queries(6):
        client.get(_url(organization, sort="-changed", page=2), headers={"HX-Request": "true"})


def test_a_row_no_key_reads_is_marked_without_decrypting_or_more_queries(
    client, organization, owner, settings, count_decryptions, django_assert_num_queries
):
    _registries(organization, 49, updated_by=owner)
    suite_key = settings.CREDENTIALS_KEY
    settings.CREDENTIALS_KEY = "a-key-that-was-later-removed-" + "r" * 30
    RegistryFactory(organization=organization, display_name="Lost", updated_by=owner)
    settings.CREDENTIALS_KEY = suite_key
    client.force_login(owner)
    client.get(_url(organization))

    with django_assert_num_queries(7):
        response = client.get(_url(organization))

    lost = next(row for row in response.text.split('<tbody id="registry-') if ">Lost</th>" in row)
    assert "Password cannot be decrypted: the encryption key changed. Enter it again." in lost
    assert response.text.count("cannot be decrypted") == 1
    assert count_decryptions == []


def _failing_everywhere(organization, registries, owner) -> None:
    """The organization on a cluster whose read found a failing workload for every registry
    and one whose image matches no registry."""
    from pullhealth.causes import Cause
    from pullhealth.failures import PullFailure as ReadFailure
    from pullhealth.pods import WorkloadRef
    from pullhealth.services import pull_health_record

    from .factories import ClusterFactory, DeliveryTargetFactory

    target = DeliveryTargetFactory(organization=organization, cluster=ClusterFactory(name="eu"))
    failures = [
        ReadFailure(
            workload=WorkloadRef("Deployment", organization.namespace, f"app-{index}"),
            container="app",
            init=False,
            image=f"{registry.address if registry else 'nowhere.example'}/app:{index}",
            reason="ImagePullBackOff",
            cause=Cause.CREDENTIALS_REFUSED,
            message="unauthorized: authentication required",
            registry=registry,
            references_secret=True,
            pods=("pod-1",),
        )
        for index, registry in enumerate([*registries, None])
    ]
    # Minutes old, so that its age ("checked 10 minutes ago") is the same in the page and a poll
    # a few seconds later on a loaded machine.
    read_at = timezone.now() - datetime.timedelta(minutes=10)
    pull_health_record(target, failures=failures, read_at=read_at)


@pytest.mark.parametrize("rows", [1, 50, 120])
def test_pull_health_adds_a_fixed_number_of_queries(
    client, organization, owner, rows, django_assert_num_queries
):
    _failing_everywhere(organization, _registries(organization, rows, updated_by=owner), owner)
    client.force_login(owner)
    client.get(_url(organization))

    # The seven above, then the targets' pull health, their failures (with the registries'
    # names) and the organization's pull-health settings.
    with django_assert_num_queries(10):
        response = client.get(_url(organization))
    # A line under each row of the page, and the organization's list.
    assert (
        response.text.count('<details class="pull-details" id="pull-details-') == min(rows, 50) + 1
    )
    assert "no registry matches" in response.text
    with django_assert_num_queries(9):
        client.get(_url(organization, sort="-changed", page=2), headers={"HX-Request": "true"})


def test_a_list_on_a_cluster_with_pull_health_decrypts_nothing(
    client, organization, owner, count_decryptions
):
    _failing_everywhere(organization, _registries(organization, 3), owner)
    client.force_login(owner)

    assert "can&#x27;t pull" in client.get(_url(organization)).text
    assert count_decryptions == []


@pytest.mark.parametrize("rows", [1, 50, 120])
def test_the_pull_health_poll_costs_the_same_whatever_the_rows(
    client, organization, owner, rows, django_assert_num_queries
):
    _failing_everywhere(organization, _registries(organization, rows, updated_by=owner), owner)
    client.force_login(owner)
    poll = client.get(_url(organization)).context["pull_poll"]
    params = {name: poll[name] for name in ("sig", "ages", "rows")}

    # Session, user, membership, the targets, their pull health and their failures.
    with django_assert_num_queries(6):
        answer = client.get(poll["url"], params, headers={"HX-Request": "true"})
    # Nothing changed: the poll element alone, whatever the ids it lists.
    assert answer.content.count(b' id="') == 1
    assert answer.content.strip().startswith(b'<div id="pull-health-poll"')
