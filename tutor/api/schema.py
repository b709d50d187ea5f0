"""The error responses every operation may give, added to the OpenAPI schema in one place (a drf-spectacular
postprocessing hook), so a generated client, and ``make apicheck``, know every status the API answers."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "A stable name: not_found, invalid, unknown_student, ..."},
                "message": {"type": "string"},
                "field": {"type": "string", "nullable": True, "description": "The input at fault, if one"},
                "index": {"type": "integer", "description": "The batch entry at fault"},
                "problems": {
                    "type": "array",
                    "description": "A roster's problems, each by file, row and field",
                    "items": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string"},
                            "row": {"type": "integer", "nullable": True},
                            "field": {"type": "string", "nullable": True},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
_ALWAYS = {
    "400": "Bad input; ``field`` names it",
    "401": "No token, or an unknown or revoked one",
    "403": "The client's scopes do not allow this",
    "404": "Not found in the client's organisation",
    "429": "Throttled; retry after the Retry-After header's seconds",
}
_WRITES = {"409": "Conflicts with what is stored (an idempotency key used for another attempt, a taken slug)"}


def error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            statuses = {**_ALWAYS, **(_WRITES if method in ("post", "put", "patch") else {})}
            for code, description in statuses.items():
                operation["responses"].setdefault(code, {"description": description, "content": ref})
    return result
