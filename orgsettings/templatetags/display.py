"""Template filters for long text in narrow columns and for exact times."""

from __future__ import annotations

import datetime
import re

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Each part ends with its dot, colon or slash.
_PARTS = re.compile(r"[^./:]*[./:]|[^./:]+$")


@register.filter(is_safe=True)
def address_breaks(value) -> SafeString:
    """`registry.gitlab.com:5050/team` as parts that do not break inside (not even at their
    hyphens), with a line-break opportunity after each `.`, `:` and `/`: a narrow column breaks
    an address between its parts, never in the middle of a name."""
    parts = _PARTS.findall(str(value))
    return mark_safe(  # noqa: S308 (every part is escaped)
        "<wbr>".join(f"<span>{escape(part)}</span>" for part in parts)
    )


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
