"""Template filters for showing registries."""

from __future__ import annotations

from django import template

from ..validation import unicode_host

register = template.Library()


@register.filter(name="unicode_host")
def unicode_host_filter(address: str) -> str:
    """The host of an address in Unicode when it is punycode (`xn--…`), else ""."""
    return unicode_host(address)
