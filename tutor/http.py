"""The request type of the pages behind ``login_required``, for the type checker.

``login_required`` guarantees a signed-in ``tutor.User`` (never ``AnonymousUser``) and django-htmx's
middleware (in ``MIDDLEWARE``) sets ``request.htmx``. Annotating those views with ``AuthedRequest``
says so once, instead of a cast in every view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from .models import User


class AuthedRequest(HttpRequest):
    user: User  # narrowed from User | AnonymousUser by login_required
    htmx: HtmxDetails
