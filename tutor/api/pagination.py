"""Its own module: DRF imports the default pagination class while building ``generics``, before any view."""

from __future__ import annotations

from django.conf import settings
from rest_framework import pagination
from rest_framework.request import Request

MAX_OFFSET = 2**62


class Pagination(pagination.LimitOffsetPagination):
    """``?limit=&offset=`` (limit capped at ``API_MAX_PAGE_SIZE``); the body is ``{count, next, previous, results}``."""

    @property
    def default_limit(self) -> int:
        return settings.API_PAGE_SIZE

    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_offset(self, request: Request) -> int:
        # DRF leaves the offset unbounded; past a 64-bit integer the database refuses it (a 500, not an empty page)
        return min(super().get_offset(request), MAX_OFFSET)
