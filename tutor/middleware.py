"""An htmx request that finds the student signed out gets a message, not the login page in the card.

``login_required`` answers a signed-out request with a redirect to the login page. htmx follows it and
would swap the whole login page into the question card, losing what the student typed. Here such a
redirect becomes a 401 with a short message and a "Log in again" link back to the page the student was
on, swapped into the page's ``#flash`` area (``HX-Retarget``), so the form and its answer stay put.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode


class HtmxSignedOutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        if request.user.is_authenticated:
            return response
        login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        back = _page_url(request)
        html = render_to_string(
            "tutor/_signed_out.html",
            {"login_url": f"{login_path}?{urlencode({'next': back})}"},
            request=request,
        )
        signed_out = HttpResponse(html, status=401)
        signed_out["HX-Retarget"] = "#flash"
        signed_out["HX-Reswap"] = "innerHTML"
        return signed_out


def _page_url(request: HttpRequest) -> str:
    """The page the student was on (htmx sends it), if it is one of ours; else the home page."""
    current = request.headers.get("HX-Current-URL", "")
    parts = urlsplit(current)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return path or "/"
    return reverse("home")
