from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "a-long-random-token-for-the-monitoring-system"


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, organisation=None))


def test_healthz_up(client, operator):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["broker"]["ok"]
    assert body["database"]["vendor"] == connection.vendor


def test_healthz_names_the_broker_when_it_is_down(client, settings, operator):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"] and body["database"]["ok"] and body["broker"]["error"]


@pytest.fixture
def database_down(monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    monkeypatch.setattr(connection, "cursor", broken_cursor)


def test_healthz_names_the_database_when_it_is_down(client, database_down, settings):
    settings.HEALTHZ_TOKEN = TOKEN  # a session cannot be read with the database down: monitoring uses a token
    response = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.json()["down"] == ["database"] and "db.internal" in response.json()["database"]["error"]


def test_the_public_answer_is_the_status_alone(client, database_down, settings):
    """Load balancers need the status code; the error text (host, port) and model details are for staff."""
    settings.HEALTHZ_TOKEN = TOKEN
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.get("/healthz", headers=headers)
        assert response.status_code == 503 and response.json() == {"status": "unavailable"}
        assert b"db.internal" not in response.content and b"5432" not in response.content


def test_a_signed_in_operator_whose_session_cannot_be_read_gets_the_public_answer(client, operator, database_down):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


def test_teachers_get_the_public_answer_and_no_token_set_opens_nothing(client, settings):
    settings.HEALTHZ_TOKEN = ""
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/healthz", headers={"Authorization": "Bearer "}).json() == {"status": "ok"}
    client.force_login(TeacherFactory())  # staff of a school, not an operator of the server
    assert client.get("/healthz").json() == {"status": "ok"}
