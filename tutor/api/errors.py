"""One error body for every failure: ``{"error": {"code", "message", "field", "index"?}}``.

``field`` names the input at fault (a query parameter or body field), ``index`` the entry of a batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tutor.oneroster import RosterError
from tutor.services import AttemptIngestError, PracticeError

logger = logging.getLogger(__name__)
_STATUS = {
    "idempotency_conflict": status.HTTP_409_CONFLICT,
    "already_answered": status.HTTP_409_CONFLICT,
    "unique": status.HTTP_409_CONFLICT,
}


def _first_error(detail: Any, path: tuple[str | int, ...] = ()) -> tuple[tuple[str | int, ...], Any] | None:
    """The first leaf of a nested DRF validation detail, with the keys and indexes that lead to it."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            found = _first_error(value, (*path, key) if key != "non_field_errors" else path)
            if found:
                return found
        return None
    if isinstance(detail, list):
        if detail and all(isinstance(d, exceptions.ErrorDetail) for d in detail):
            return path, detail[0]
        for i, value in enumerate(detail):
            found = _first_error(value, (*path, i))
            if found:
                return found
        return None
    return path, detail


def error_body(code: str, message: str, field: str | None = None, index: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "field": field}
    if index is not None:
        error["index"] = index
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RosterError):
        body = error_body("invalid_roster", str(exc.problems[0]), "file")
        body["error"]["problems"] = [
            {"file": p.file, "row": p.row, "field": p.field, "message": p.message} for p in exc.problems
        ]
        return Response(body, status=400)
    if isinstance(exc, PracticeError):
        index = exc.index if isinstance(exc, AttemptIngestError) else None
        return Response(error_body(exc.code, exc.message, exc.field, index), status=_STATUS.get(exc.code, 400))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django logs it and answers 500
    if isinstance(exc, exceptions.ValidationError):
        found = _first_error(exc.detail)
        path, detail = found if found else ((), exceptions.ErrorDetail("Invalid input.", "invalid"))
        index = next((p for p in path if isinstance(p, int)), None)
        field = ".".join(str(p) for p in path if not isinstance(p, int)) or None
        response.data = error_body(getattr(detail, "code", "invalid"), str(detail), field, index)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response.data = error_body(exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code, detail)
    return response


class JsonErrorsMiddleware:
    """Everything under ``/api/`` answers in the error body above, never a Django HTML page: a URL that
    matches no endpoint (404), a method Django itself refuses (405) and an uncaught exception (500, logged).
    DRF's own errors already have the body; this catches what happens outside a DRF view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _is_api(request) or response.status_code not in _PAGE_ERRORS:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code, message = _PAGE_ERRORS[response.status_code]
        json_response = JsonResponse(error_body(code, message), status=response.status_code)
        if "Allow" in response:
            json_response["Allow"] = response["Allow"]
        return json_response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_api(request) or isinstance(exception, Http404 | PermissionDenied):
            return None  # Django turns those into a 404/403 page, which ``__call__`` rewrites
        logger.error("API server error: %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse(error_body("server_error", "A server error occurred."), status=500)


_PAGE_ERRORS = {
    400: ("invalid", "Bad request."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    500: ("server_error", "A server error occurred."),
}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")
