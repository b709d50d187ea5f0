"""Login throttling per account: after ``LOGIN_FAILURE_LIMIT`` wrong passwords for one username within
``LOGIN_FAILURE_WINDOW_S``, that username is refused for ``LOGIN_LOCKOUT_S``, whatever the password.

Per account, not per address: a school's whole network often reaches us from one IP, and one student
guessing wrong must not lock out the class. The counts live in the cache (Redis in production, shared by
every web worker). The backend enforces it for every login path (the login page, the admin's); the forms
only turn the refusal into a plain message. django-axes does the same and more, but its backend refuses
``authenticate()`` without a request (the test client's ``login``, the demo's checks), adds two tables and
a middleware; this is the part Metis needs. See docs/operations.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest

from .login_throttle import login_failure_record, login_failures_clear, login_locked


class ThrottledModelBackend(ModelBackend):
    """Django's username/password backend, refusing a locked account before looking at its password."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if login_locked(username=username):
            raise PermissionDenied  # authenticate() stops here, tries no other backend, signals the failure
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username)
        else:
            login_failures_clear(username=username)
        return user


def _locked_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_S / 60))
    return (
        "Too many failed logins for this account. Wait "
        f"{minutes} minute{'s' if minutes != 1 else ''} and try again, or ask your teacher to reset your password."
    )


class _LockedMessageMixin:
    """Say that the account is locked rather than that the password is wrong (it may be right)."""

    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()  # type: ignore[misc]
        except ValidationError:
            username = self.cleaned_data.get("username")
            if username and login_locked(username=username):
                raise ValidationError(_locked_message(), code="locked") from None
            raise


class ThrottledAuthenticationForm(_LockedMessageMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_LockedMessageMixin, AdminAuthenticationForm):
    pass
