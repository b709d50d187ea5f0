"""Production mode refuses unsafe settings and passes check --deploy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k3Q9-vB1xZ7_pL0mN4rT8yW2sD6fH5jG" * 2
# What production must be told (nothing listens there: `check` does not connect).
SERVICES = {
    "DATABASE_URL": "postgres://metis@db.invalid:5432/metis",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
    "CACHE_URL": "redis://redis.invalid:6379/1",
}
PRODUCTION = {"METIS_ENV": "production", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "metis.example.org", **SERVICES}


def _check(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "METIS_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE", *SERVICES}
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_without_secret_key():
    result = _check({"METIS_ENV": "production", "ALLOWED_HOSTS": "metis.example.org"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_insecure_key_and_missing_hosts():
    weak = _check({"METIS_ENV": "production", "SECRET_KEY": "django-insecure-" + "x" * 60, "ALLOWED_HOSTS": "a.org"})
    assert weak.returncode != 0 and "SECRET_KEY" in weak.stderr
    hosts = _check({"METIS_ENV": "production", "SECRET_KEY": GOOD_KEY})
    assert hosts.returncode != 0 and "ALLOWED_HOSTS" in hosts.stderr


@pytest.mark.parametrize("variable", sorted(SERVICES))
def test_production_refuses_to_fall_back_to_the_embedded_services(variable):
    """Unset (or empty), DATABASE_URL, CELERY_BROKER_URL and CACHE_URL would mean a SQLite file, the
    filesystem broker and a per-process cache: production refuses to start and names the variable."""
    for missing in ({k: v for k, v in PRODUCTION.items() if k != variable}, {**PRODUCTION, variable: ""}):
        result = _check(missing)
        assert result.returncode != 0 and f"needs {variable}" in result.stderr, result.stderr


def test_production_passes_deploy_checks():
    result = _check(
        PRODUCTION,
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _production_value(expression: str, env_extra: dict[str, str] | None = None):
    """``expression`` evaluated on tutor.settings imported in a fresh process under production settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT"}}
    env.update(PRODUCTION, **(env_extra or {}))
    code = f"import json, tutor.settings as s; print(json.dumps({expression}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def test_production_keeps_connections_and_checks_them_before_reuse():
    """gunicorn's workers keep their database connection between requests (no connect per request), and a
    connection PostgreSQL dropped is replaced rather than failing the next request."""
    db = _production_value("[s.DATABASES['default']['CONN_MAX_AGE'], s.DATABASES['default']['CONN_HEALTH_CHECKS']]")
    assert db == [60, True]
    assert _production_value("s.DATABASES['default']['CONN_MAX_AGE']", {"DATABASE_CONN_MAX_AGE_S": "0"}) == 0


def test_production_redirects_to_https_unless_the_proxy_does_it():
    """Behind a TLS-terminating proxy the redirect can be left to the proxy (SECURE_SSL_REDIRECT=false); the
    proxy's X-Forwarded-Proto tells Django the request was HTTPS, and HSTS stays on either way."""
    on = _production_value("[s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS]")
    assert on == [True, ["HTTP_X_FORWARDED_PROTO", "https"], 31536000]
    assert _production_value("[s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS]", {"SECURE_SSL_REDIRECT": "false"}) == [
        False,
        31536000,
    ]


def test_a_bad_database_url_names_the_variable():
    result = _check({"DATABASE_URL": "mysqlx://nowhere/db"})
    assert result.returncode != 0 and "DATABASE_URL is not a database URL" in result.stderr


def test_empty_variables_fall_back_to_the_embedded_defaults(tmp_path):
    result = _check({"DATABASE_URL": "", "CELERY_BROKER_URL": "", "METIS_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


def _database_options(env_extra: dict[str, str]) -> dict:
    """The database OPTIONS that tutor.settings computes under this environment (imported in a fresh process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(env_extra)
    code = "import json, tutor.settings as s; print(json.dumps(s.DATABASES['default'].get('OPTIONS', {})))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def test_postgresql_connections_time_out_and_bound_each_statement():
    url = "postgres://metis@db.invalid:5432/metis"
    options = _database_options({"DATABASE_URL": url})
    assert options["connect_timeout"] == 5 and options["options"] == "-c statement_timeout=30000 -c jit=off"
    options = _database_options(
        {"DATABASE_URL": url, "DATABASE_CONNECT_TIMEOUT_S": "2", "DATABASE_STATEMENT_TIMEOUT_MS": "0"}
    )
    assert options["connect_timeout"] == 2 and options["options"] == "-c jit=off"  # no statement timeout
    # options given in the URL are kept beside the timeout
    options = _database_options({"DATABASE_URL": url + "?options=-c%20search_path%3Dmetis"})
    assert options["options"] == "-c search_path=metis -c statement_timeout=30000 -c jit=off"


@pytest.mark.parametrize("value", ["metis.example.org", "ftp://metis.example.org", "https://metis.example.org/?a=1"])
def test_a_bad_site_url_names_the_variable(value):
    result = _check({"SITE_URL": value})
    assert result.returncode != 0 and "SITE_URL must be the site's http(s) address" in result.stderr


def test_a_bad_xapi_namespace_names_the_variable():
    result = _check({"XAPI_NAMESPACE": "metis"})
    assert result.returncode != 0 and "XAPI_NAMESPACE must be a UUID" in result.stderr


def test_a_bad_timeout_names_the_variable():
    result = _check({"DATABASE_URL": "postgres://metis@db.invalid/metis", "DATABASE_STATEMENT_TIMEOUT_MS": "30s"})
    assert result.returncode != 0 and "DATABASE_STATEMENT_TIMEOUT_MS" in result.stderr


@pytest.mark.django_db
def test_the_statement_timeout_reaches_postgresql():
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on it)")
    expected = int(os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS") or 30_000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")  # in ms
        assert int(cursor.fetchone()[0]) == expected
        cursor.execute("SHOW jit")  # no JIT compilation for web queries (docs/decisions/0005-skill-tallies.md)
        assert cursor.fetchone()[0] == "off"
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] > 0
