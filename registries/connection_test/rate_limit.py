"""How many connection tests each person may run (REGISTRY_PROBE_RATE), on the Settings page and
in the admin alike. Not to be confused with the login throttle, which counts failed logins."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

from .options import parse_rate
from .report import TESTS, Report


def take_test_slot(user) -> Report | None:
    """Take one of `user`'s tests for the period; the report to show instead when none is free.

    A sliding window, exact to the second: the rate's limit is a number of slots per user in the
    cache, each taken with an atomic `add` that expires one period later. A test runs only if it
    takes a free slot, so no period-long span ever holds more tests than the limit (a fixed window
    would allow twice the limit across its boundary), and a refused test takes nothing. Web
    processes sharing one cache (Redis) share the slots.
    """
    rate = parse_rate(settings.REGISTRY_PROBE_RATE)
    keys = [f"registry-probe-rate:{user.pk}:{rate.seconds}:{slot}" for slot in range(rate.limit)]
    taken = cache.get_many(keys)
    now = time.time()
    for key in keys:
        if key not in taken and cache.add(key, now, timeout=rate.seconds):
            return None
    # Every slot was taken, some perhaps by a test in another process since get_many.
    taken = cache.get_many(keys)
    if len(taken) < len(keys):
        # A slot expired just now; the next click will find it.
        retry_after = 1
    else:
        retry_after = max(1, math.ceil(min(taken.values()) + rate.seconds - now))
    TESTS.labels("throttled").inc()
    return Report(
        title="Too many tests",
        message=(
            f"Connection tests are limited to {rate} for each person. "
            f"Try again in {_duration(retry_after)}."
        ),
        tone="warn",
        retry_after=retry_after,
    )


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minutes"
    hours = math.ceil(seconds / 3600)
    return f"{hours} hours"
