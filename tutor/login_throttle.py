"""The login throttle's counts in the cache, per username (``tutor.auth`` enforces them at login).

A domain module so that erasure (``tutor.privacy_services``) can forget an account's counts too.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger("tutor.auth")


def _key(kind: str, username: str) -> str:
    # Case-folded (so "Alice" and "alice" share one count) and hashed (any username is a safe cache key).
    return f"login-{kind}:{hashlib.sha256(username.casefold().encode()).hexdigest()[:40]}"


def login_locked(*, username: str) -> bool:
    return cache.get(_key("locked", username)) is not None


def login_failure_record(*, username: str) -> bool:
    """Count one wrong password for ``username``; True when this one locks the account."""
    key = _key("failures", username)
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)  # the window starts at the first failure
    try:
        failures = cache.incr(key)
    except ValueError:  # the window ran out between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        failures = 1
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return False
    cache.set(_key("locked", username), True, timeout=settings.LOGIN_LOCKOUT_S)
    cache.delete(key)
    log.warning("login locked for %s s after %s failures (username hash %s)", settings.LOGIN_LOCKOUT_S, failures, key)
    return True


def login_failures_clear(*, username: str) -> None:
    cache.delete(_key("failures", username))


def login_throttle_forget(*, username: str) -> None:
    """Drop the account's failure count and lock (erasure): the keys are derived from the username."""
    cache.delete_many([_key("failures", username), _key("locked", username)])
