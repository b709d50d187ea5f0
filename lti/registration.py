"""LTI Dynamic Registration 1.0 through pylti1p3next's DynamicRegistration: the LMS hands Metis its OpenID
configuration and a registration token; Metis posts its tool configuration and stores the platform it gets back.

Only through a single-use invite (``RegistrationInvite``) made by a Metis admin for one organisation: without
it, anyone could register an LMS of their own into a school.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from pylti1p3.dynamic_registration import DynamicRegistration
from pylti1p3.exception import LtiException

from . import tool
from .models import Deployment, Platform, RegistrationInvite
from .tool import LaunchRefused

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


class MetisRegistration(DynamicRegistration):
    client_name = "Metis"
    description = "Adaptive practice that learns how each student learns."

    def __init__(self, *, invite: RegistrationInvite, openid_configuration: str, registration_token: str | None):
        self.invite = invite
        self.openid_configuration_url = openid_configuration
        self.registration_token = registration_token
        self.platform: Platform | None = None

    def _url(self, name: str) -> str:
        return settings.SITE_URL + reverse(name)

    def get_request_session(self) -> t.Any:
        return tool.http_session()

    def get_initiate_login_uri(self) -> str:
        return self._url("lti:login")

    def get_jwks_uri(self) -> str:
        return self._url("jwks")

    def get_redirect_uris(self) -> list[str]:
        return [self._url("lti:launch")]

    def get_target_link_uri(self) -> str:
        return self._url("lti:launch")

    def get_scopes(self) -> list[str]:
        return SCOPES

    def get_domain(self) -> str:
        return urlsplit(settings.SITE_URL).netloc

    def get_claims(self) -> list[str]:
        return ["iss", "sub", "name", "given_name", "family_name", "email"]

    def get_messages(self) -> list[dict[str, str]]:
        return [
            {"type": "LtiDeepLinkingRequest", "target_link_uri": self._url("lti:launch"), "label": "Metis practice"}
        ]

    def get_logo_uri(self) -> str:
        return settings.SITE_URL + static("favicon.svg")

    def get_openid_configuration_endpoint(self) -> str:
        return self.openid_configuration_url

    def get_registration_token(self) -> str:
        return self.registration_token  # type: ignore[return-value]

    def get_openid_configuration(self) -> dict[str, t.Any]:
        """The platform's configuration, checked before anything is posted to it."""
        try:
            response = self.get_request_session().get(self.openid_configuration_url, timeout=10)
            response.raise_for_status()
            config = response.json()
        except Exception as exc:
            raise LtiException(f"could not read the platform's OpenID configuration: {exc}") from exc
        if not isinstance(config, dict):
            raise LtiException("the platform's OpenID configuration is not a JSON object")
        issuer = str(config.get("issuer") or "")
        if not issuer.startswith("https://") and not settings.DEBUG:
            raise LtiException("the platform's issuer must be an https:// URL")
        if urlsplit(issuer).netloc != urlsplit(self.openid_configuration_url).netloc:
            raise LtiException(f"the OpenID configuration was not served from its issuer's host ({issuer})")
        missing = [
            name
            for name in (
                "registration_endpoint",
                "authorization_endpoint",
                "token_endpoint",
                "jwks_uri",
                PLATFORM_CONFIG,
            )
            if not config.get(name)
        ]
        if missing:
            raise LtiException(f"the platform's OpenID configuration lacks {', '.join(missing)}")
        return config

    def complete_registration(
        self, openid_configuration: dict[str, t.Any], openid_registration: dict[str, t.Any]
    ) -> Platform:
        client_id = str(openid_registration.get("client_id") or "")
        if not client_id:
            raise LtiException("the platform's registration response has no client_id")
        issuer = str(openid_configuration["issuer"])
        if Platform.objects.filter(issuer=issuer, client_id=client_id).exists():
            raise LtiException(f"a platform with issuer {issuer} and client id {client_id} is already registered")
        platform = Platform.objects.create(
            organisation=self.invite.organisation,
            name=self.invite.name,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=str(openid_configuration["authorization_endpoint"]),
            auth_token_url=str(openid_configuration["token_endpoint"]),
            auth_audience=str(openid_configuration.get("authorization_server") or ""),
            key_set_url=str(openid_configuration["jwks_uri"]),
        )
        deployment_id = (openid_registration.get(TOOL_CONFIG) or {}).get("deployment_id")
        if deployment_id:
            Deployment.objects.create(platform=platform, deployment_id=str(deployment_id))
        self.platform = platform
        return platform


def platform_register(*, token: str, openid_configuration: str, registration_token: str | None) -> Platform:
    """Register the LMS that opened this invite's URL; the invite is used up only by a registration that worked."""
    if not openid_configuration:
        raise LaunchRefused("The registration request lacks openid_configuration.")
    with transaction.atomic():
        invite = (
            RegistrationInvite.objects.select_for_update()
            .select_related("organisation")
            .filter(token=token, used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if invite is None:
            raise LaunchRefused("This registration link is unknown, used or expired; ask for a new one.", status=404)
        flow = MetisRegistration(
            invite=invite, openid_configuration=openid_configuration, registration_token=registration_token
        )
        try:
            flow.register()
        except (LtiException, AssertionError) as exc:
            raise LaunchRefused(f"Registration failed: {exc}") from None
        platform = flow.platform
        assert platform is not None
        invite.used_at = timezone.now()
        invite.platform = platform
        invite.save(update_fields=["used_at", "platform"])
    return platform
