"""What the Registries table shows: search, the auth type filter, sort and the page of rows.

The view is read from a query string, so a link (or Back, or a reload) shows the same rows, and
every header and page link is that query string with one thing changed. The rows are read
without their secrets, and their links are built from one reversed URL per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict
from django.urls import reverse

from orgsettings.models import Organization

from .auth_kinds import auth_kind_choices
from .models import SECRET_COLUMNS, ContainerRegistry

PAGE_SIZE = 50

# Sort key -> (column label, ordering). Ties are broken by name and id, so pages never overlap.
SORTS = {
    "name": ("Display Name", [Lower("display_name")]),
    "address": ("Address", [F("address")]),
    "auth": ("Auth Type", [F("auth_type")]),
    "changed": ("Last changed", [F("updated_at")]),
}
# Status is not among them: it is derived from the organization's delivery targets, not stored
# with the registry, so the database can neither sort nor filter by it.
DEFAULT_SORT = "name"
# The same sorts as choices, for phones, where the rows are cards without column headers.
SORT_CHOICES = [
    ("name", "Display Name, A to Z"),
    ("-name", "Display Name, Z to A"),
    ("address", "Address, A to Z"),
    ("-address", "Address, Z to A"),
    ("auth", "Auth Type, {first} first"),
    ("-auth", "Auth Type, {last} first"),
    ("-changed", "Last changed, newest first"),
    ("changed", "Last changed, oldest first"),
]


def sort_choices() -> list[tuple[str, str]]:
    """SORT_CHOICES, with the Auth Types that sort first and last (by their stored values)."""
    labels = [label for _value, label in sorted(auth_kind_choices())]
    return [
        (value, label.format(first=labels[0], last=labels[-1])) for value, label in SORT_CHOICES
    ]


class RegistryListForm(forms.Form):
    """The table's query string. An invalid value is reported and that part is ignored."""

    q = forms.CharField(label="Search", max_length=255, required=False, strip=True)
    auth = forms.ChoiceField(
        label="Auth Type",
        choices=lambda: [("", "Any auth type"), *auth_kind_choices()],
        required=False,
    )
    sort = forms.ChoiceField(label="Sort by", choices=sort_choices, required=False)

    def value(self, name: str) -> str:
        """The cleaned value, or "" when it is missing or invalid."""
        if not self.is_bound:
            return ""
        self.is_valid()
        return self.cleaned_data.get(name) or ""


@dataclass(frozen=True)
class RegistryList:
    form: RegistryListForm
    page: Page
    # Registries of the organization, whatever the search and filters.
    total: int
    filtered: bool
    sort: str
    descending: bool
    list_url: str
    # The query string that shows this view (without the page number: the poll keeps it).
    query: str

    @property
    def registries(self) -> list[ContainerRegistry]:
        return list(self.page.object_list)

    def columns(self) -> list[dict]:
        """Each header's label, link and aria-sort: a click sorts by it, a second reverses."""
        columns = []
        for key, (label, _ordering) in SORTS.items():
            current = key == self.sort
            next_sort = f"-{key}" if current and not self.descending else key
            columns.append(
                {
                    "key": key,
                    "label": label,
                    "url": self.url(sort=None if next_sort == DEFAULT_SORT else next_sort),
                    "aria_sort": (
                        ("descending" if self.descending else "ascending") if current else ""
                    ),
                }
            )
        return columns

    def page_url(self, number: int) -> str:
        return self.url(page=None if number == 1 else number)

    @property
    def current_url(self) -> str:
        """This view, page included: what the table reloads from."""
        return self.page_url(self.page.number)

    @property
    def previous_url(self) -> str:
        return self.page_url(self.page.previous_page_number())

    @property
    def next_url(self) -> str:
        return self.page_url(self.page.next_page_number())

    @property
    def summary(self) -> str:
        """`120 registries, showing 51 to 100`, or `2 of 120 registries match “io”`."""
        count = self.page.paginator.count
        if self.filtered:
            search = self.form.value("q")
            text = f"{count:,} of {self.total:,} registr{'y' if self.total == 1 else 'ies'} "
            text += f"match{'es' if count == 1 else ''}" + (f" “{search}”" if search else "")
        else:
            text = f"{count:,} registr{'y' if count == 1 else 'ies'}"
        if self.page.has_other_pages():
            text += f", showing {self.page.start_index():,} to {self.page.end_index():,}"
        return text + "."

    @property
    def sort_value(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def url(self, **changes) -> str:
        params = QueryDict(self.query, mutable=True)
        for name, value in changes.items():
            params.pop(name, None)
            if value not in (None, ""):
                params[name] = str(value)
        query = params.urlencode()
        return f"{self.list_url}?{query}" if query else self.list_url


def _query_dict(params: QueryDict) -> str:
    """The view's parameters that are set and valid, in a stable order."""
    form = RegistryListForm(params)
    kept = QueryDict(mutable=True)
    for name in ("q", "auth", "sort"):
        value = form.value(name)
        if value and not (name == "sort" and value == DEFAULT_SORT):
            kept[name] = value
    return kept.urlencode()


def registry_list(organization: Organization, params: QueryDict) -> RegistryList:
    """The page of `organization`'s registries that `params` (a query string) asks for."""
    form = RegistryListForm(params)
    registries = organization.registries.all()
    search = form.value("q")
    if search:
        registries = registries.filter(
            Q(display_name__icontains=search) | Q(address__icontains=search)
        )
    if auth := form.value("auth"):
        registries = registries.filter(auth_type=auth)
    sort = form.value("sort") or DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    page = Paginator(_ordered(registries, key, descending), PAGE_SIZE).get_page(params.get("page"))
    page.object_list = list(page.object_list)
    filtered = bool(search or auth)
    total = organization.registries.count() if filtered else page.paginator.count
    list_url = reverse("registries:list", kwargs={"slug": organization.slug})
    rows = RegistryList(
        form=form,
        page=page,
        total=total,
        filtered=filtered,
        sort=key,
        descending=descending,
        list_url=list_url,
        query=_query_dict(params),
    )
    attach_row_urls(organization.slug, page.object_list)
    return rows


def _ordered(
    registries: QuerySet[ContainerRegistry], key: str, descending: bool
) -> QuerySet[ContainerRegistry]:
    terms = [expression.desc() if descending else expression.asc() for expression in SORTS[key][1]]
    return (
        registries.select_related("updated_by")
        # The list never shows a secret: leave them encrypted in the database.
        .defer(*SECRET_COLUMNS)
        .order_by(*terms, Lower("display_name"), "pk")
    )


_PLACEHOLDER_PK = 987654321987654321


def _url_maker(name: str, slug: str) -> Callable[[int], str]:
    # One reverse() per kind of link, not per row: the pk is put into the reversed URL.
    before, _, after = reverse(name, kwargs={"slug": slug, "pk": _PLACEHOLDER_PK}).rpartition(
        str(_PLACEHOLDER_PK)
    )
    return lambda pk: f"{before}{pk}{after}"


def attach_row_urls(slug: str, registries) -> None:
    edit, delete, test = (
        _url_maker(name, slug)
        for name in ("registries:edit", "registries:delete", "registries:test-stored")
    )
    for registry in registries:
        registry.edit_url = edit(registry.pk)
        registry.delete_url = delete(registry.pk)
        registry.test_url = test(registry.pk)
