"""Template filters for long text in narrow columns and for exact times."""

from __future__ import annotations

import datetime
import re

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_BREAK_AFTER = re.compile(r"([./:])")


@register.filter(is_safe=True)
def address_breaks(value) -> SafeString:
    """`registry.gitlab.com:5050/team` with line-break opportunities after each `.`, `:` and
    `/` only, so that a narrow column breaks an address between its parts, never inside one."""
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", escape(value)))  # noqa: S308 (escaped first)


@register.filter(expects_localtime=True)
def exact_time(value: datetime.datetime | None) -> str:
    """`Dec 1, 2026, 21:30 UTC`: the date, the time and its time zone, in the current one.

    Formatted directly: on a table of rows, Django's localized date formats cost a good part
    of the page's rendering time.
    """
    if not isinstance(value, datetime.datetime):
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return f"{value:%b} {value.day}, {value:%Y, %H:%M} {value.tzname()}"
