"""Request guards that answer before a view runs.

An htmx request that finds the student signed out gets a message, not the login page in the card.

``login_required`` answers a signed-out request with a redirect to the login page. htmx follows it and
would swap the whole login page into the question card, losing what the student typed. Here such a
redirect becomes a 401 with a short message and a "Log in again" link back to the page the student was
on, swapped into the page's ``#flash`` area (``HX-Retarget``), so the form and its answer stay put.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from tutor.api.errors import error_body


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


NUL = "\x00"


class RefuseNulMiddleware:
    """A request whose query string or form fields hold a NUL character gets a 400 naming the field.

    PostgreSQL cannot store NUL in text and raises DataError, a 500 after the view may have written part of
    its work; no field of Metis needs one. Checked before any view runs (``process_view``, after the CSRF
    check), so it covers every form, the metacognition ones included, and nothing is stored. An htmx request
    gets the message in the page's ``#flash`` area, so the form and what the student typed stay put.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: object, view_args: object, view_kwargs: object
    ) -> HttpResponse | None:
        field = _nul_field(request)
        if field is None:
            return None
        ctx = {"field": field.replace(NUL, "\N{REPLACEMENT CHARACTER}")}
        if request.path.startswith("/api/"):  # the REST API's error body (docs/api.md), naming the field
            message = f"The field '{ctx['field']}' contains a character that is not allowed (NUL). Nothing was saved."
            return JsonResponse(error_body("invalid", message, ctx["field"]), status=400)
        if getattr(request, "htmx", False):
            response = HttpResponse(render_to_string("tutor/_bad_input.html", ctx, request=request), status=400)
            response["HX-Retarget"] = "#flash"
            response["HX-Reswap"] = "innerHTML"
            return response
        return HttpResponse(render_to_string("tutor/bad_input.html", ctx, request=request), status=400)


def _nul_field(request: HttpRequest) -> str | None:
    """The first field (query string, then body) whose name or value holds a NUL; None when none does."""
    found = _nul_in_pairs(request.GET.lists())
    if found is not None or request.method not in ("POST", "PUT", "PATCH"):
        return found
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):  # the REST API's bodies, POST too
        try:
            return _nul_in_json(json.loads(request.body), "")
        except ValueError:
            return None  # not JSON: the view says so
    if request.method == "POST":  # Django parses form bodies (urlencoded, multipart) for POST only
        return _nul_in_pairs(request.POST.lists())
    if content_type == "application/x-www-form-urlencoded":
        return _nul_in_pairs(QueryDict(request.body, encoding=request.encoding).lists())
    return None


def _nul_in_pairs(pairs: Iterable[tuple[str, list[str]]]) -> str | None:
    for name, values in pairs:
        if NUL in name or any(NUL in value for value in values):
            return name
    return None


def _nul_in_json(value: object, path: str) -> str | None:
    """The dotted path of the first string holding a NUL (``attempt.answer``, ``answers[2]``)."""
    if isinstance(value, str):
        return (path or "body") if NUL in value else None
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return child_path
            found = _nul_in_json(child, child_path)
            if found is not None:
                return found
    if isinstance(value, list):
        for n, child in enumerate(value):
            found = _nul_in_json(child, f"{path}[{n}]")
            if found is not None:
                return found
    return None
