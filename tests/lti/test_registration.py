"""LTI Dynamic Registration against the test LMS: only through a single-use invite of one organisation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lti.models import Deployment, Platform, RegistrationInvite
from lti.registration import SCOPES

pytestmark = pytest.mark.django_db


def _register(client, lms, invite, **params):
    query = {
        "openid_configuration": lms.platform.openid_configuration_url,
        "registration_token": lms.platform.registration_token,
        **params,
    }
    return client.get(f"/lti/register/{invite.token}/", {k: v for k, v in query.items() if v is not None}, secure=True)


@pytest.fixture
def invite(lms):
    # The fixture's hand-made registration would clash with the dynamic one only on the same client id.
    return RegistrationInvite.objects.create(organisation=lms.section.organisation, name="Moodle at Riverside")


def test_dynamic_registration_creates_the_platform_and_launches_work(lms, client, invite):
    response = _register(client, lms, invite)
    assert response.status_code == 200
    assert b"org.imsglobal.lti.close" in response.content
    assert "X-Frame-Options" not in response  # the LMS shows this page in a frame
    platform = Platform.objects.get(client_id="dyn-client-1")
    assert platform.organisation == lms.section.organisation and platform.name == "Moodle at Riverside"
    assert (platform.issuer, platform.auth_login_url, platform.auth_token_url, platform.key_set_url) == (
        lms.platform.issuer,
        lms.platform.auth_login_url,
        lms.platform.auth_token_url,
        lms.platform.key_set_url,
    )
    assert list(Deployment.objects.filter(platform=platform).values_list("deployment_id", flat=True)) == [
        "dyn-deployment"
    ]
    [sent] = lms.platform.registrations
    assert sent["initiate_login_uri"] == "https://metis.example.org/lti/login/"
    assert sent["redirect_uris"] == ["https://metis.example.org/lti/launch/"]
    assert sent["jwks_uri"] == "https://metis.example.org/.well-known/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(sent["scope"].split()) == set(SCOPES)
    tool_config = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool_config["domain"] == "metis.example.org"
    assert tool_config["messages"][0]["type"] == "LtiDeepLinkingRequest"
    invite.refresh_from_db()
    assert invite.used_at is not None and invite.platform == platform

    # A launch under the new client id and deployment lands in practice.
    lms.platform.client_id = "dyn-client-1"
    lms.platform.deployment_id = "dyn-deployment"
    assert lms.launch(client)["Location"].startswith("/practice/")


def test_a_used_expired_or_unknown_invite_registers_nothing(lms, client, invite):
    assert _register(client, lms, invite).status_code == 200
    again = _register(client, lms, invite)
    assert again.status_code == 404 and b"unknown, used or expired" in again.content
    expired = RegistrationInvite.objects.create(
        organisation=lms.section.organisation, name="x", expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert _register(client, lms, expired).status_code == 404
    unknown = RegistrationInvite(token="no-such-token")
    assert _register(client, lms, unknown).status_code == 404
    assert Platform.objects.filter(client_id__startswith="dyn-client").count() == 1
    assert len(lms.platform.registrations) == 1


@pytest.mark.parametrize(
    "problem, expect",
    [
        ({"openid_configuration": None}, b"lacks openid_configuration"),
        ({"registration_token": "wrong"}, b"Registration failed"),
        ("foreign issuer", b"not served from its issuer"),
    ],
)
def test_a_bad_registration_request_is_refused_and_the_invite_kept(lms, client, invite, problem, expect):
    if problem == "foreign issuer":
        lms.platform.openid_issuer = "https://elsewhere.example"
        params = {}
    else:
        params = problem
    response = _register(client, lms, invite, **params)
    assert response.status_code == 400 and expect in response.content
    assert not Platform.objects.filter(client_id__startswith="dyn-client").exists()
    invite.refresh_from_db()
    assert invite.used_at is None


def test_admin_shows_the_registration_url(lms, admin_client, invite):
    page = admin_client.get(f"/admin/lti/registrationinvite/{invite.pk}/change/").content.decode()
    assert f"https://metis.example.org/lti/register/{invite.token}/" in page
