"""Refusals that say why: the 403 and 404 pages, and their short form for htmx requests.

An htmx request comes from a page that is already open: its answer lands in a dialog or a
result slot, so it gets a small fragment with words (and its real status) rather than a whole
page, which static/js/app.js shows in place. That includes an expired session, which would
otherwise answer with a redirect to the login page, and htmx would swap that page in.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.cache import patch_vary_headers
from django.views import csrf, defaults


class Gone(Http404):
    """A 404 whose message is meant for the member who followed a stale link, such as
    "This registry was deleted by adam 3 minutes ago." Raise it only after the member's
    access to the organization was checked, so it tells outsiders nothing."""


class RoleRequired(PermissionDenied):
    """Refused for the user's role: the message says what the role cannot do. `lost`, when
    not "", is what to tell someone whose role was lowered, which an open page may still not
    show."""

    def __init__(self, message: str, *, lost: str = "") -> None:
        super().__init__(message)
        self.lost = lost


def request_error(request: HttpRequest, status: int, title: str, detail: str = "") -> HttpResponse:
    response = render(
        request,
        "request_error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A body too large to read (a huge paste) or malformed: for htmx, words, and no "try again"
    that could only fail the same way."""
    if getattr(request, "htmx", False):
        if isinstance(exception, RequestDataTooBig):
            return request_error(
                request,
                400,
                "Too much to send.",
                "A value pasted into the form is far too long (a password is at most 8 KB, a token "
                "16 KB). Nothing was saved.",
            )
        return request_error(
            request, 400, "The request could not be read.", "Reload the page, then try again."
        )
    response = defaults.bad_request(request, exception, template_name="400.html")
    patch_vary_headers(response, ("HX-Request",))
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    reason = str(exception) if isinstance(exception, Gone) else ""
    if getattr(request, "htmx", False):
        if reason:
            saved = "Nothing was saved." if request.method == "POST" else ""
            return request_error(request, 404, reason, saved)
        detail = "It was deleted, or you are no longer a member of this organization."
        return request_error(request, 404, "Not found.", detail)
    response = render(request, "404.html", {"reason": reason}, status=404)
    patch_vary_headers(response, ("HX-Request",))
    return response


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if getattr(request, "htmx", False):
        if isinstance(exception, RoleRequired):
            if exception.lost:
                return request_error(request, 403, exception.lost, str(exception))
            return request_error(request, 403, str(exception))
        return request_error(request, 403, "Not allowed.", str(exception))
    response = defaults.permission_denied(request, exception)
    patch_vary_headers(response, ("HX-Request",))
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form whose security token is no longer valid: for htmx, words rather than a page."""
    if getattr(request, "htmx", False):
        return request_error(
            request,
            403,
            "This page is out of date.",
            "Reload it, then try again: it was loaded before your last login.",
        )
    return csrf.csrf_failure(request, reason)


def htmx_login_middleware(get_response):
    """For htmx, "log in first" is a 401 with words, not the login page to swap in."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))
            and not request.user.is_authenticated
        ):
            return request_error(
                request,
                401,
                "Your session expired.",
                "Log in in another tab, then try again: what you typed here is kept.",
            )
        return response

    return middleware
