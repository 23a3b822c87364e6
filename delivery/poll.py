"""What the Settings page's delivery poll sends: only what changed since the page last heard.

The poll element carries, in hidden inputs sent with each poll (and with Sync now), what the
page shows that can still change: a signature of the status line, the signature of every
registry's Status cell that is not settled (Pending or Error), and when it was rendered. The next
poll compares that with the stored state and answers only the cells whose words differ, so one
Pending row among 1,000 costs a few hundred bytes, not the table. Settled rows change only by
becoming unsettled, so they need no listing.

A page with very many unsettled rows would make the poll's URL too long; it then sends `*`
instead of the list, and a poll answers every cell when the targets' state changed (a delivery
ran), and otherwise the cells of registries saved since the last poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from .advice import RegistryWords, StatusLine

MAX_LISTED = 300
# A save that committed while the previous poll read may carry an older time than that poll.
_SAVE_MARGIN = timedelta(seconds=5)
# ASCII digits only: \d and str.isdigit() also take "²" (which int() refuses) and Arabic-Indic digits.
_ROW_RE = re.compile(r"^([0-9]{1,18})\.([0-9a-f]{8})$")
_SINCE_RE = re.compile(r"[0-9]{1,11}")
_SIG_RE = re.compile(r"^[0-9a-f]{8}$")


@dataclass(frozen=True)
class Watched:
    """What the page showed at the last render or poll."""

    line: str = ""
    rows: dict[int, str] | None = None  # None: too many to list, any row may have changed
    since: datetime | None = None


def watch_params(line_signature: str, words: dict[int, RegistryWords]) -> dict[str, str]:
    """What the next poll (or Sync now) tells of the page."""
    unsettled = {pk: w.signature for pk, w in words.items() if not w.settled}
    if len(unsettled) > MAX_LISTED:
        rows = "*"
    else:
        rows = "_".join(f"{pk}.{sig}" for pk, sig in sorted(unsettled.items()))
    return {"line": line_signature, "rows": rows, "since": str(int(timezone.now().timestamp()))}


def parse_watched(query) -> Watched:
    """The poll's query, leniently: a value that does not parse counts as "shown nothing",
    which makes the answer bigger, never wrong."""
    line = query.get("line", "")
    line = line if _SIG_RE.match(line) else ""
    raw_rows = query.get("rows", "")
    rows: dict[int, str] | None
    if raw_rows == "*":
        rows = None
    else:
        rows = {}
        for item in raw_rows.split("_") if raw_rows else []:
            match = _ROW_RE.match(item)
            if match:
                rows[int(match[1])] = match[2]
    since = None
    raw_since = query.get("since", "")
    if _SINCE_RE.fullmatch(raw_since):
        since = datetime.fromtimestamp(int(raw_since), tz=timezone.get_current_timezone())
    return Watched(line=line, rows=rows, since=since)


def changed_rows(
    watched: Watched,
    line: StatusLine,
    line_signature: str,
    words: dict[int, RegistryWords],
    saved_at: dict[int, datetime],
) -> list[int]:
    """The registries whose Status cell differs from what the page shows."""
    if watched.rows is not None:
        return sorted(
            pk
            for pk, w in words.items()
            if (pk in watched.rows and watched.rows[pk] != w.signature)
            or (pk not in watched.rows and not w.settled)
        )
    if watched.line != line_signature or watched.since is None:
        return sorted(words)
    since = watched.since - _SAVE_MARGIN
    return sorted(pk for pk in words if saved_at.get(pk) and saved_at[pk] >= since)


def poll_interval(line: StatusLine, words: dict[int, RegistryWords]) -> str | None:
    """How often the page asks again: often while something is on its way, now and then while
    a cluster fails (the platform retries by itself), and not at all once everything settled."""
    tones = {line.tone} | {w.tone for w in words.values()}
    if "pending" in tones:
        return "2s"
    if "error" in tones:
        return "15s"
    return None
