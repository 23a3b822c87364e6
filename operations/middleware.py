"""Middleware for running in production: the probe and metrics endpoints, and the request ID.

`operations_endpoints` comes first in MIDDLEWARE and answers /healthz, /readyz and /metrics
itself, before SecurityMiddleware and CommonMiddleware. Kubernetes' probes and Prometheus
reach a pod by its IP over plain HTTP (`Host: 10.1.2.3:8000`), so ALLOWED_HOSTS would answer
400 and SECURE_SSL_REDIRECT a 301 (which the kubelet counts as a success without checking
anything). These three paths read no Host header, set no cookie and need no session: they are
safe to answer for any host. Everything else goes through the usual checks.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import logs, metrics
from .health import readiness_problems

logger = logging.getLogger("orgsettings.requests")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """The database answers and every migration is applied: this pod may take traffic."""
    problems = readiness_problems()
    if problems:
        return JsonResponse({"status": "unavailable", "checks": problems}, status=503)
    return JsonResponse({"status": "ok"})


def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = metrics.scrape_refusal(
        request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", "")
    )
    if refusal is not None:
        response = HttpResponse(status=refusal)
        if refusal == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


ENDPOINTS = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}


def operations_endpoints(get_response):
    def middleware(request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        response = view(request)
        response["Cache-Control"] = "no-store"
        return response

    return middleware


class RequestContextMiddleware:
    """Gives every request an ID (kept from a trusted proxy's X-Request-ID, else new), returned
    in X-Request-ID and on every log line; counts the request and logs one line for it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_request_id(request) or uuid.uuid4().hex
        started = time.perf_counter()
        with logs.request_context(request_id):
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            match = request.resolver_match
            view = match.view_name if match is not None else _unmatched(request)
            metrics.observe_request(request.method or "", view, response.status_code, seconds)
            # The path only: a query string is the client's text and may hold anything.
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "view": view,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        slug = view_kwargs.get("slug")
        if isinstance(slug, str):
            logs.set_organization(slug)


def _incoming_request_id(request: HttpRequest) -> str | None:
    """A client can put anything in X-Request-ID: only the proxies we trust may set it."""
    if not getattr(settings, "AUDIT_TRUSTED_PROXIES", 0):
        return None
    value = request.headers.get("X-Request-ID", "")
    return value if _REQUEST_ID.match(value) else None


def _unmatched(request: HttpRequest) -> str:
    # A fixed label for what no URL pattern names: a metric label must not grow with paths.
    return (
        "static" if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")) else "unmatched"
    )
