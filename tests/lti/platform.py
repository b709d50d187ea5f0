"""A test LMS: signs real RS256 id_tokens with its own RSA key, serves its JWKS, issues access tokens to a tool that
proves itself with a JWT signed by the tool's key (checked against Metis's JWKS), takes scores and serves a roster.

Metis reaches it over HTTP through ``lti.tool.http_session``; the fixture mounts this platform as a requests
transport adapter for its base URL, so the library's own code fetches keysets and posts grades as it would live.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from requests.adapters import BaseAdapter

BASE = "https://lms.example.edu"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def public_jwk(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class TestPlatform:
    issuer = BASE
    client_id = "metis-client-1"
    deployment_id = "deployment-1"
    auth_login_url = f"{BASE}/oidc/auth"
    auth_token_url = f"{BASE}/oauth/token"
    key_set_url = f"{BASE}/jwks"
    lineitem_url = f"{BASE}/courses/7/lineitems/3"
    memberships_url = f"{BASE}/courses/7/memberships"
    deep_link_return_url = f"{BASE}/courses/7/deep_links"
    openid_configuration_url = f"{BASE}/.well-known/openid-configuration"
    registration_endpoint = f"{BASE}/lti/register"
    registration_token = "platform-registration-token"

    def __init__(self) -> None:
        self.key = SigningKey(kid="platform-key-1")
        self.requests: list[requests.PreparedRequest] = []
        self.scores: list[dict] = []
        self.members: list[dict] = []
        self.tool_jwks: dict | None = None  # Metis's keyset, to check its client assertions
        self.issued_tokens: set[str] = set()
        self.registrations: list[dict] = []
        self.openid_issuer = self.issuer

    # --- the LMS side of a launch ---------------------------------------------------

    def rotate_key(self) -> None:
        self.key = SigningKey(kid=f"platform-key-{uuid.uuid4().hex[:6]}")

    def claims(self, *, nonce: str, sub: str = "student-1", roles: list[str] | None = None, **extra) -> dict:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": f"{sub}@example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "http://localhost:8000/lti/launch/",
            CLAIM + "resource_link": {"id": "link-1", "title": "Fractions practice"},
            CLAIM + "context": {"id": "course-7", "title": "Maths 7"},
            CLAIM + "roles": roles if roles is not None else [ROLE_LEARNER],
            CLAIM + "launch_presentation": {"return_url": f"{BASE}/courses/7"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": AGS_SCOPES,
                "lineitem": self.lineitem_url,
                "lineitems": f"{BASE}/courses/7/lineitems",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.memberships_url,
                "service_versions": ["2.0"],
            },
        }
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def deep_link_claims(self, *, nonce: str, sub: str = "teacher-1") -> dict:
        body = self.claims(nonce=nonce, sub=sub, roles=[ROLE_INSTRUCTOR])
        body[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
        del body[CLAIM + "resource_link"]
        body["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": self.deep_link_return_url,
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "data": "opaque-platform-data",
        }
        return body

    def sign(self, claims: dict, *, key: SigningKey | None = None, kid: str | None = None, alg: str = "RS256") -> str:
        key = key or self.key
        headers = {"kid": kid or key.kid}
        if alg == "none":
            header = _b64(json.dumps({"alg": "none", "typ": "JWT", **headers}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if alg == "HS256-with-public-key":
            # The classic confusion attack: HMAC keyed with the platform's public key, which anyone can fetch.
            header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
            payload = _b64(json.dumps(claims).encode())
            mac = hmac.new(key.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
            return f"{header}.{payload}.{_b64(mac)}"
        # JWS over the raw JSON, so a test can sign claims PyJWT itself would refuse to encode (a dict as iss).
        return jwt.PyJWS().encode(
            json.dumps(claims).encode(), key.private, algorithm=alg, headers={**headers, "typ": "JWT"}
        )

    # --- the LMS's HTTP endpoints ----------------------------------------------------

    def handle(self, request: requests.PreparedRequest) -> tuple[int, dict | list | str, dict]:
        self.requests.append(request)
        url = request.url or ""
        path = urlsplit(url).path
        if request.method == "GET" and url == self.key_set_url:
            return 200, {"keys": [self.key.public_jwk()]}, {}
        if request.method == "POST" and url == self.auth_token_url:
            return self._token(request)
        if request.method == "GET" and url == self.openid_configuration_url:
            return 200, self.openid_configuration(), {}
        if request.method == "POST" and url == self.registration_endpoint:
            if request.headers.get("Authorization") != f"Bearer {self.registration_token}":
                return 401, {"error": "invalid_token"}, {}
            body = json.loads(request.body or b"{}")
            self.registrations.append(body)
            client_id = f"dyn-client-{len(self.registrations)}"
            tool_config = {
                **body["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                "deployment_id": "dyn-deployment",
            }
            return (
                200,
                {**body, "client_id": client_id, "https://purl.imsglobal.org/spec/lti-tool-configuration": tool_config},
                {},
            )
        auth = (request.headers or {}).get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.issued_tokens:
            return 401, {"error": "invalid_token"}, {}
        if request.method == "POST" and path == urlsplit(self.lineitem_url).path + "/scores":
            assert request.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
            self.scores.append(json.loads(request.body or b"{}"))
            return 200, "", {}
        if request.method == "GET" and url == self.memberships_url:
            return 200, {"id": url, "context": {"id": "course-7"}, "members": self.members}, {}
        return 404, {"error": "not found"}, {}

    def openid_configuration(self) -> dict:
        return {
            "issuer": self.openid_issuer,
            "authorization_endpoint": self.auth_login_url,
            "token_endpoint": self.auth_token_url,
            "jwks_uri": self.key_set_url,
            "registration_endpoint": self.registration_endpoint,
            "scopes_supported": ["openid"],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "test-lms",
                "version": "1.0",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
            },
        }

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict, dict]:
        form = {k: v[0] for k, v in parse_qs(str(request.body)).items()}
        assertion = form.get("client_assertion", "")
        assert self.tool_jwks is not None, "give the platform Metis's JWKS first"
        kid = jwt.get_unverified_header(assertion).get("kid")
        jwk = next((k for k in self.tool_jwks["keys"] if k["kid"] == kid), None)
        if jwk is None or form.get("grant_type") != "client_credentials":
            return 401, {"error": "invalid_client"}, {}
        try:
            claims = jwt.decode(
                assertion, RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"], audience=self.auth_token_url
            )
        except jwt.InvalidTokenError:
            return 401, {"error": "invalid_client"}, {}
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return 401, {"error": "invalid_client"}, {}
        token = uuid.uuid4().hex
        self.issued_tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope")}, {}


class PlatformAdapter(BaseAdapter):
    """A requests transport that answers from a TestPlatform instead of the network."""

    def __init__(self, platform: TestPlatform) -> None:
        super().__init__()
        self.platform = platform

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        status, body, headers = self.platform.handle(request)
        response = requests.Response()
        response.status_code = status
        response._content = (json.dumps(body) if not isinstance(body, str) else body).encode()
        response.headers.update({"Content-Type": "application/json", **headers})
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass
