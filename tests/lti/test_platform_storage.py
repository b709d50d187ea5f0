"""LTI Platform Storage: a browser that keeps no cookie of Metis's in the LMS's frame. The login page stores state
and nonce in the platform's frame; the launch shows a page that reads them back, and Metis completes the launch
only when that page, from Metis's own origin, confirms it. The postMessage exchange itself is in the browser test
(tests/browser/test_lti_platform_storage.py); here, every server-side check."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from lti.models import LaunchNonce
from tests.lti.conftest import SITE
from tests.lti.test_launch import _created_nothing
from tutor.models import PracticeSession, User

CLAIM_CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
CONFIRM = {"HTTP_X_METIS_PLATFORM_STORAGE": "checked", "HTTP_ORIGIN": SITE, "HTTP_SEC_FETCH_SITE": "same-origin"}


def _config(response) -> dict:
    assert response.status_code == 200, response.content[:800]
    found = re.search(rb'<script id="lti-storage" type="application/json">(.*?)</script>', response.content)
    assert found, response.content[:800]
    assert b"js/lti-storage.js" in response.content
    return json.loads(found.group(1))


def _storage_login(lms, client, **overrides) -> dict:
    params = {
        "iss": lms.platform.issuer,
        "login_hint": "opaque-user-hint",
        "target_link_uri": f"{SITE}/lti/launch/",
        "client_id": lms.platform.client_id,
        "lti_storage_target": "_parent",
        **overrides,
    }
    return _config(client.get("/lti/login/", params, secure=True))


def _launch_post(lms, client, *, state, nonce, target="_parent", **extra):
    claims = lms.platform.claims(nonce=nonce, **{CLAIM_CUSTOM: {"metis_class": str(lms.section.pk)}})
    data = {"id_token": lms.platform.sign(claims), "lti_storage_target": target}
    if state is not None:
        data["state"] = state
    return client.post("/lti/launch/", data, secure=True, **extra)


@pytest.fixture
def cookieless():
    """The browser at launch: it kept no cookie from the login (third-party cookies blocked)."""
    return Client()


def test_login_with_a_storage_target_gives_the_page_that_stores_state_and_nonce(lms, client):
    config = _storage_login(lms, client)
    assert config["step"] == "login" and config["target"] == "_parent"
    assert config["origin"] == "https://lms.example.edu"  # where put_data goes: the platform's login URL's origin
    auth = urlsplit(config["next"])
    assert f"{auth.scheme}://{auth.netloc}{auth.path}" == lms.platform.auth_login_url
    query = {k: v[0] for k, v in parse_qs(auth.query).items()}
    assert (query["state"], query["nonce"]) == (config["state"], config["nonce"])
    assert LaunchNonce.objects.filter(nonce=config["nonce"], state=config["state"], used_at__isnull=True).exists()


def test_a_launch_without_the_state_cookie_shows_the_page_that_reads_the_storage(lms, client, cookieless):
    config = _storage_login(lms, client)
    page = _config(_launch_post(lms, cookieless, state=config["state"], nonce=config["nonce"]))
    assert page["step"] == "launch" and page["target"] == "_parent" and page["origin"] == "https://lms.example.edu"
    assert (page["state"], page["nonce"], page["next"]) == (config["state"], config["nonce"], "/lti/launch/")
    # Nothing happens before the page confirms: no account, no session, the nonce still unused.
    _created_nothing()
    assert LaunchNonce.objects.get(nonce=config["nonce"]).used_at is None
    confirmed = cookieless.post(
        "/lti/launch/", {"id_token": page["id_token"], "state": page["state"]}, secure=True, **CONFIRM
    )
    assert confirmed.status_code == 200, confirmed.content
    student = User.objects.get(lti_identity__sub="student-1")
    session = PracticeSession.objects.get(student=student, section=lms.section)
    assert confirmed.json() == {"location": f"/practice/{session.pk}/"}
    assert "SameSite=None; Partitioned" in confirmed.cookies[settings.SESSION_COOKIE_NAME].OutputString()
    assert LaunchNonce.objects.get(nonce=config["nonce"]).used_at is not None
    assert cookieless.get(f"/practice/{session.pk}/", secure=True).status_code == 200


def test_a_confirmed_launch_replayed_is_refused(lms, client, cookieless):
    config = _storage_login(lms, client)
    page = _config(_launch_post(lms, cookieless, state=config["state"], nonce=config["nonce"]))
    data = {"id_token": page["id_token"], "state": page["state"]}
    assert cookieless.post("/lti/launch/", data, secure=True, **CONFIRM).status_code == 200
    again = Client().post("/lti/launch/", data, secure=True, **CONFIRM)
    assert again.status_code == 400
    assert "Invalid Nonce" in again.json()["error"]  # used up by the first confirmation
    # and the launch post itself, replayed, is refused before any page
    replay = _launch_post(lms, Client(), state=config["state"], nonce=config["nonce"])
    assert replay.status_code == 400 and b"Invalid Nonce" in replay.content


def test_a_state_not_issued_with_the_nonce_is_refused(lms, client, cookieless):
    first = _storage_login(lms, client)
    second = _storage_login(lms, client)
    # the state of another login, with this login's nonce: at the launch post ...
    response = _launch_post(lms, cookieless, state=second["state"], nonce=first["nonce"])
    assert response.status_code == 400
    assert b"state is not the one Metis issued" in response.content
    # ... and at the confirmation, which is checked again on its own
    claims = lms.platform.claims(nonce=first["nonce"], **{CLAIM_CUSTOM: {"metis_class": str(lms.section.pk)}})
    confirm = cookieless.post(
        "/lti/launch/", {"id_token": lms.platform.sign(claims), "state": "state-made-up"}, secure=True, **CONFIRM
    )
    assert confirm.status_code == 400 and "state is not the one Metis issued" in confirm.json()["error"]
    _created_nothing()
    assert not LaunchNonce.objects.filter(used_at__isnull=False).exists()


def test_a_launch_without_state_is_refused_with_a_clear_error(lms, client, cookieless):
    config = _storage_login(lms, client)
    response = _launch_post(lms, cookieless, state=None, nonce=config["nonce"])
    assert response.status_code == 400
    assert b"The launch has no state" in response.content
    _created_nothing()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_METIS_PLATFORM_STORAGE": "checked"},  # no Origin
        {**CONFIRM, "HTTP_ORIGIN": "https://attacker.example"},
        {**CONFIRM, "HTTP_SEC_FETCH_SITE": "cross-site"},
    ],
    ids=["no-origin", "other-origin", "cross-site"],
)
def test_only_metis_own_page_may_confirm(lms, client, cookieless, headers):
    config = _storage_login(lms, client)
    page = _config(_launch_post(lms, cookieless, state=config["state"], nonce=config["nonce"]))
    response = cookieless.post(
        "/lti/launch/", {"id_token": page["id_token"], "state": page["state"]}, secure=True, **headers
    )
    assert response.status_code == 403
    assert "Metis's own launch page" in response.json()["error"]
    _created_nothing()
    assert LaunchNonce.objects.get(nonce=config["nonce"]).used_at is None


def test_a_browser_that_kept_the_state_cookie_launches_as_before(lms, client):
    config = _storage_login(lms, client)
    response = _launch_post(lms, client, state=config["state"], nonce=config["nonce"])
    assert response.status_code == 302 and response["Location"].startswith("/practice/")


@pytest.mark.parametrize("target", ["../x", "a b", "<script>", "x" * 101])
def test_a_storage_target_that_is_not_a_frame_name_is_refused(lms, client, cookieless, target):
    response = client.get(
        "/lti/login/",
        {
            "iss": lms.platform.issuer,
            "login_hint": "h",
            "target_link_uri": f"{SITE}/lti/launch/",
            "lti_storage_target": target,
        },
        secure=True,
    )
    assert response.status_code == 400 and b"lti_storage_target" in response.content
    assert not LaunchNonce.objects.exists()
