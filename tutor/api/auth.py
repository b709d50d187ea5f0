"""Who is calling: an integration client's Bearer token, its scopes, and its own throttle bucket."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from tutor.access import api_client_for_token
from tutor.models import ApiClient


class ApiClientAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer metis_...``. ``request.auth`` is the ApiClient; there is no user (``None``)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            raise exceptions.AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        client = api_client_for_token(token.strip())
        if client is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        return None, client

    def authenticate_header(self, request: Request) -> str:
        # Without it DRF answers 403 to a missing token; with it, 401 and this challenge.
        return f'{self.keyword} realm="api"'


class HasScope(permissions.BasePermission):
    """Reads need the ``read`` scope, anything else ``write``. No client: DRF answers 401."""

    message = "This client's scopes do not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        client = request.auth
        if not isinstance(client, ApiClient):
            return False
        needed = ApiClient.Scope.READ if request.method in permissions.SAFE_METHODS else ApiClient.Scope.WRITE
        if not client.has_scope(needed):
            self.message = f"This client lacks the '{needed.value}' scope."
            return False
        return True


class ApiClientThrottle(throttling.SimpleRateThrottle):
    """One bucket per client, at ``settings.API_CLIENT_RATE`` (read per request, so tests can change it)."""

    scope = "api_client"

    def get_rate(self) -> str | None:
        return settings.API_CLIENT_RATE

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        client = request.auth
        if not isinstance(client, ApiClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.pk}


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and Swagger UI's Authorize button) how clients authenticate."""

    target_class = ApiClientAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token from `manage.py api_client_create` (metis_...).",
        }
