"""Fixtures: a registered test LMS (tests/lti/platform.py) reachable through lti.tool.http_session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from lti.models import Platform
from lti.selectors import tool_jwks
from tests.lti.platform import CLAIM, TestPlatform
from tests.lti.registered import register_test_platform
from tutor.models import Section

SITE = "https://metis.example.org"


@dataclass
class Lms:
    """Drives a browser through login initiation and launch, as an LMS page would."""

    platform: TestPlatform
    registration: Platform
    section: Section

    def login(self, client, **overrides) -> dict[str, str]:
        params = {
            "iss": self.platform.issuer,
            "login_hint": "opaque-user-hint",
            "target_link_uri": f"{SITE}/lti/launch/",
            "client_id": self.platform.client_id,
            "lti_message_hint": "opaque-message-hint",
            **overrides,
        }
        params = {k: v for k, v in params.items() if v is not None}
        # The first answer is the page whose script checks that cookies work in the frame, then reloads with
        # lti1p3_new_window=1 (what a browser with cookies does next).
        check = client.get("/lti/login/", params, secure=True)
        assert check.status_code == 200 and b"checkCookiesAllowed" in check.content, check.content[:500]
        response = client.get("/lti/login/", {**params, "lti1p3_new_window": "1"}, secure=True)
        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.platform.auth_login_url
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    def post_launch(self, client, *, id_token: str, state: str | None):
        data = {"id_token": id_token}
        if state is not None:
            data["state"] = state
        return client.post("/lti/launch/", data, secure=True)

    def launch(self, client, *, sign=None, deep_link: bool = False, linked: bool = True, **claims):
        """Login, then a launch whose id_token carries the nonce the login sent; ``sign`` may replace signing."""
        auth = self.login(client)
        nonce = claims.pop("nonce", auth["nonce"])
        if deep_link:
            body = self.platform.deep_link_claims(nonce=nonce, **claims)
        else:
            if linked:
                claims.setdefault(CLAIM + "custom", {"metis_class": str(self.section.pk)})
            body = self.platform.claims(nonce=nonce, **claims)
        token = sign(body) if sign else self.platform.sign(body)
        return self.post_launch(client, id_token=token, state=auth["state"])


@pytest.fixture
def lms(db, monkeypatch, settings) -> Lms:
    settings.SITE_URL = SITE
    platform, registration, section = register_test_platform(monkeypatch)
    platform.tool_jwks = tool_jwks()
    return Lms(platform=platform, registration=registration, section=section)
