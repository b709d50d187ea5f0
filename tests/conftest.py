"""Suite-wide guards: under CI=true the real services must be there (no silent SQLite / skip)."""

from __future__ import annotations

import os
import tempfile

import pytest

# Each test session gets its own var/ (embedded broker folders, media, SQLite test database),
# so parallel sessions on one machine never purge each other's queues.
os.environ.setdefault("METIS_VAR_DIR", tempfile.mkdtemp(prefix="metis-test-"))

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("django"):
        return
    from django.conf import settings

    # Tests create many accounts; the production hasher costs ~0.3 s per password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if not IN_CI:
        return

    problems = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        problems.append(f"CI=true but the database is {engine}; set DATABASE_URL to PostgreSQL")
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")):
        problems.append(f"CI=true but the broker is {settings.CELERY_BROKER_URL!r}; set CELERY_BROKER_URL to Redis")
    else:
        # The database needs no probe here: pytest-django fails the run if it cannot create the test database.
        from tutor.health import check_broker

        broker = check_broker()
        if not broker["ok"]:
            problems.append(f"CI=true but the broker does not answer: {broker['error']}")
    if problems:
        raise pytest.UsageError("\n".join(problems))


@pytest.fixture(autouse=True)
def _fresh_cache(request: pytest.FixtureRequest):
    """Test databases reuse primary keys, so nothing cached by student id may outlive a test."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
