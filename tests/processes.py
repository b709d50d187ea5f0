"""Helpers for tests that start real processes (Celery workers, the demo) against the test database."""

from __future__ import annotations

from django.db import connection


def shared_database_url() -> str:
    """A DATABASE_URL that points a child process at this test session's database."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
