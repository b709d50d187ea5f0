"""pylti1p3next wired to Metis: the tool configuration read from the database, nonces that a launch may use
once, and a message launch that checks what the library leaves to the tool.

The library does the OIDC redirect, the state cookie, the RS256 signature against the platform's JWKS, exp and
iat, deployment and message-type checks. On top of it (docs/decisions/0006-lti-library.md):

- ``alg`` must be RS256 before any key is looked at (no ``none``, no HS256 made with a public key);
- ``aud`` must hold the client id, and ``azp`` must be it when present or when ``aud`` names several clients;
- ``exp`` and ``iat`` must be present (the library lets a token without them through);
- the platform's keyset is cached and fetched again when a token names a ``kid`` the cached set lacks;
- the nonce is checked last, after the signature, and is used up by a launch that passes (a row per nonce in
  the database, so a replay fails on every worker);
- LTI Platform Storage (1EdTech "Client Side postMessages"): where the browser keeps no cookie in the LMS's frame,
  the login page stores state and nonce in the platform's frame by postMessage and the launch page reads them
  back (``static/js/lti-storage.js``). Such a launch is validated twice: once to show that page ("check": nothing
  is used up), then once more when that page, from Metis's own origin, confirms it ("confirmed"). Either way the
  state must be the one Metis issued with the token's nonce.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import parse_qs, urlsplit

import requests
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from pylti1p3.contrib.django.message_launch import DjangoMessageLaunch
from pylti1p3.contrib.django.oidc_login import DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.contrib.django.service_connector import DjangoServiceConnector
from pylti1p3.contrib.django.session import DjangoSessionService
from pylti1p3.deployment import Deployment as LibDeployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from .models import Deployment, LaunchNonce, Platform, ToolKey

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
NONCE_LIFETIME = dt.timedelta(minutes=10)
KEYSET_CACHE_S = 3600
# A token naming an unknown kid fetches the platform's keyset again, at most this often per platform.
KEYSET_REFETCH_S = 30
USER_AGENT = "Metis-LTI (pylti1p3next)"
# How a launch shows that the browser that logged in is the one launching: the state cookie (None), or the
# platform's storage ("check": the page that reads it is about to be shown; "confirmed": that page read it).
PlatformStorage = t.Literal["check", "confirmed"] | None


class LaunchRefused(Exception):
    """A launch or login Metis refuses; ``message`` says why in words an LMS admin can act on."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def http_session() -> requests.Session:
    """The HTTP client for platform calls (keysets, tokens, grades, rosters); the test platform replaces it."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def registration_for(platform: Platform, key: ToolKey) -> Registration:
    registration = Registration()
    registration.set_issuer(platform.issuer)
    registration.set_client_id(platform.client_id)
    registration.set_auth_login_url(platform.auth_login_url)
    registration.set_auth_token_url(platform.auth_token_url)
    registration.set_key_set_url(platform.key_set_url)
    if platform.auth_audience:
        registration.set_auth_audience(platform.auth_audience)
    registration.set_tool_private_key(key.private_key_pem)
    registration.set_tool_public_key(key.public_key_pem)
    return registration


class DbToolConf(ToolConfAbstract):
    """Registrations from ``Platform`` rows: one issuer may have many client ids (Canvas cloud has one issuer for
    every school), so every lookup is by issuer and client id."""

    def __init__(self, signing_key: ToolKey) -> None:
        self.signing_key = signing_key
        self.platform: Platform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: t.Any, **kwargs: t.Any) -> Registration:
        raise LtiException("Metis looks platforms up by issuer and client id")

    def find_registration_by_params(self, iss: str, client_id: str, *args: t.Any, **kwargs: t.Any) -> Registration:
        platforms = Platform.objects.filter(issuer=iss, is_active=True)
        if client_id:
            platforms = platforms.filter(client_id=client_id)
        # A login request may leave client_id out (it is optional there); then the issuer must name one platform.
        found = list(platforms[:2])
        platform = found[0] if len(found) == 1 else None
        if platform is None:
            # The library reads a falsy registration as "not found" and says so.
            return None  # type: ignore[return-value]
        self.platform = platform
        return registration_for(platform, self.signing_key)

    def find_deployment(self, iss: str, deployment_id: str) -> LibDeployment | None:
        return None

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: t.Any, **kwargs: t.Any
    ) -> LibDeployment | None:
        if not Deployment.objects.filter(
            platform__issuer=iss, platform__client_id=client_id, platform__is_active=True, deployment_id=deployment_id
        ).exists():
            return None
        return LibDeployment().set_deployment_id(deployment_id)


class NonceOnceSessionService(DjangoSessionService):
    """Nonces live in the database: issued at login, used up by the first launch that passes every other check.

    The launch POST arrives from the platform's page, where a browser does not send Metis's (SameSite=Lax)
    session cookie, so nothing the launch needs may live in the session."""

    def save_nonce(self, nonce: str) -> None:
        now = timezone.now()
        # Spent or expired nonces are worthless a day later (a replay fails on an unknown nonce just the same).
        LaunchNonce.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
        LaunchNonce.objects.create(nonce=nonce, expires_at=now + NONCE_LIFETIME)

    def check_nonce(self, nonce: str) -> bool:
        return LaunchNonce.objects.filter(nonce=nonce, used_at__isnull=True, expires_at__gt=timezone.now()).exists()

    def nonce_use(self, nonce: str) -> bool:
        """Mark the nonce used; False if another request used it first (one UPDATE decides the race)."""
        now = timezone.now()
        return bool(
            LaunchNonce.objects.filter(nonce=nonce, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
        )

    def check_state_is_valid(self, state: str, id_token_hash: str) -> bool:
        # No re-validation of an earlier launch: every launch shows its state cookie and a fresh nonce.
        return False

    def set_state_valid(self, state: str, id_token_hash: str) -> None:
        return None

    def save_launch_data(self, key: str, jwt_body: t.Mapping[str, t.Any]) -> None:
        # Stored in the signed-in session after the launch (lti.services), not in the pre-launch session.
        return None


def _keyset_cache_key(url: str) -> str:
    return f"lti:keyset:{url}"


class MetisMessageLaunch(DjangoMessageLaunch):
    def __init__(
        self, request: HttpRequest, tool_config: DbToolConf, *, platform_storage: PlatformStorage = None
    ) -> None:
        self._session = NonceOnceSessionService(DjangoRequest(request, post_only=True))
        super().__init__(request, tool_config, session_service=self._session, requests_session=http_session())
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
        self._keyset_from_cache = False
        self._platform_storage = platform_storage

    def validate_state(self) -> MetisMessageLaunch:
        if self._platform_storage is None:
            super().validate_state()
            return self
        # No cookie to compare with: the state must be present here, and is checked against the nonce Metis issued
        # it with once the token is known to be genuine (_validate_state_pair).
        if not self._get_request_param("state"):
            raise LtiException("The launch has no state (the LMS must send back the state Metis gave it).")
        return self

    def _validate_state_pair(self) -> None:
        state = self._get_request_param("state")
        if not LaunchNonce.objects.filter(nonce=self._jwt["body"]["nonce"], state=state).exists():
            raise LtiException("The launch's state is not the one Metis issued with this id_token's nonce.")

    def validate(self) -> MetisMessageLaunch:
        """The library's checks, with the nonce checked and used up last, once the token is known to be genuine."""
        if self._restored:
            raise LtiException("A restored launch can't be validated.")
        self._validated = True
        try:
            self.validate_state().validate_jwt_format()
            self._validate_shape()
            self._validate_alg()
            self.validate_registration().validate_jwt_signature().validate_deployment().validate_message()
            self.validate_nonce()
            if self._platform_storage is not None:
                self._validate_state_pair()
            if self._platform_storage == "check":
                return self  # nothing used up: the page that reads the platform's storage comes next
            if not self._session.nonce_use(self._jwt["body"]["nonce"]):
                raise LtiException("This launch was already used (its nonce was seen before).")
        except Exception:
            self._validated = False
            raise
        return self

    def _validate_shape(self) -> None:
        """Claims of the types the spec gives them, before any of them reaches a database lookup."""
        header: object = self._jwt.get("header")
        body: object = self._jwt.get("body")
        if not isinstance(header, dict) or not isinstance(body, dict):
            raise LtiException("The id_token's header and body must be JSON objects.")
        aud = body.get("aud")
        expected: dict[str, type | tuple[type, ...]] = {
            "iss": str,
            "nonce": str,
            "sub": str,
            CLAIM + "deployment_id": str,
            CLAIM + "message_type": str,
            CLAIM + "resource_link": dict,
            CLAIM + "context": dict,
            CLAIM + "custom": dict,
            CLAIM + "roles": list,
            CLAIM + "launch_presentation": dict,
        }
        wrong = [name for name, kind in expected.items() if name in body and not isinstance(body[name], kind)]
        if not (isinstance(aud, str) or (isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud))):
            wrong.append("aud")
        if wrong:
            raise LtiException(f"The id_token's claims have the wrong type: {', '.join(wrong)}.")

    def _validate_alg(self) -> None:
        alg = self._jwt.get("header", {}).get("alg")
        if alg != "RS256":
            raise LtiException(f"The id_token must be signed with RS256; this one says alg={alg!r}.")

    def validate_registration(self) -> MetisMessageLaunch:
        super().validate_registration()
        body = self._jwt.get("body", {})
        client_id = self.get_client_id()
        aud = body.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        azp = body.get("azp")
        if client_id not in audiences:
            raise LtiException("The id_token's aud does not name this tool's client id.")
        if (azp is not None or len(audiences) > 1) and azp != client_id:
            raise LtiException("The id_token's azp is not this tool's client id.")
        return self

    def fetch_public_key(self, key_set_url: str) -> t.Any:
        cached = cache.get(_keyset_cache_key(key_set_url))
        if cached:
            self._keyset_from_cache = True
            return cached
        self._keyset_from_cache = False
        try:
            response = self._requests_session.get(key_set_url, timeout=10)
            response.raise_for_status()
            keyset = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise LtiException(f"Could not fetch the platform's keyset from {key_set_url}: {exc}") from exc
        if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
            raise LtiException(f"The platform's keyset at {key_set_url} is not a JWKS.")
        cache.set(_keyset_cache_key(key_set_url), keyset, KEYSET_CACHE_S)
        return keyset

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException:
            assert self._registration is not None
            url = self._registration.get_key_set_url() or ""
            # A platform that rotated its key signs with a kid our cached keyset lacks: fetch it again, once.
            if not self._keyset_from_cache or not cache.add(f"lti:keyset-refetch:{url}", True, KEYSET_REFETCH_S):
                raise
            cache.delete(_keyset_cache_key(url))
            self._registration.set_key_set(None)
            return super().get_public_key()

    def body(self) -> dict[str, t.Any]:
        return dict(self._jwt.get("body", {}))


class MetisOIDCLogin(DjangoOIDCLogin):
    """The library's login, which also records the state it sends beside the nonce (LaunchNonce.state)."""

    def _prepare_redirect_url(self, launch_url: str) -> str:
        url = super()._prepare_redirect_url(launch_url)
        query = parse_qs(urlsplit(url).query)
        LaunchNonce.objects.filter(nonce=query["nonce"][0]).update(state=query["state"][0])
        return url

    def storage_redirect_url(self, launch_url: str) -> tuple[str, str, str]:
        """For a login with lti_storage_target: the platform's authentication URL, its state and its nonce."""
        url = self.get_redirect_object(launch_url).get_redirect_url()
        query = parse_qs(urlsplit(url).query)
        return url, query["state"][0], query["nonce"][0]

    def cookies_add(self, response: HttpResponse) -> HttpResponse:
        """The state cookie on a page of Metis's own, for browsers that do keep it."""
        self._cookie_service.update_response(response)
        return response


def oidc_login(request: HttpRequest, tool_config: DbToolConf) -> MetisOIDCLogin:
    session = NonceOnceSessionService(DjangoRequest(request))
    return MetisOIDCLogin(request, tool_config, session_service=session)  # type: ignore[arg-type]


def service_connector(registration: Registration) -> DjangoServiceConnector:
    return DjangoServiceConnector(registration, http_session())
