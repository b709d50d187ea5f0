"""LTI 1.3: the platforms (LMSs) registered with Metis, the tool's own signing keys, and what launches leave.

A platform registration (issuer + client id) belongs to one organisation: everyone it launches is created in
that organisation and lands only in its classes.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from tutor.models import Organisation, PracticeSession, Section, User


class Platform(models.Model):
    """An LMS registration: what the LMS admin gives us when they add Metis as an LTI 1.3 tool."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="lti_platforms")
    name = models.CharField(max_length=200, help_text="e.g. 'Canvas at Riverside High'")
    issuer = models.CharField(
        max_length=255, help_text="The platform's issuer (iss), e.g. https://canvas.instructure.com"
    )
    client_id = models.CharField(max_length=255, help_text="The client id the platform gave Metis")
    auth_login_url = models.URLField(max_length=500, help_text="Platform OIDC authentication URL")
    auth_token_url = models.URLField(max_length=500, help_text="Platform OAuth2 access token URL (grades, rosters)")
    auth_audience = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Token audience, if the platform wants one other than the token URL",
    )
    key_set_url = models.URLField(max_length=500, help_text="Platform public keyset (JWKS) URL")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI platform"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    """One deployment of Metis in the platform (an account, a course); launches from any other are refused."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)

    class Meta:
        verbose_name = "LTI deployment"
        constraints = [
            models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_deployment_unique_per_platform")
        ]

    def __str__(self) -> str:
        return self.deployment_id


class ToolKey(models.Model):
    """One of Metis's own RSA key pairs. The newest signs; a retired one stays in the JWKS for a grace period
    so that platforms holding a cached keyset can still check what it signed."""

    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = models.TextField()
    public_key_pem = models.TextField()
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "LTI tool key"
        get_latest_by = "created_at"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid


class LaunchNonce(models.Model):
    """A nonce Metis sent with an OIDC login; a launch may use it once, before it expires. ``state`` is the state
    sent with it: a launch checked through the platform's storage (no state cookie) must show this pair."""

    nonce = models.CharField(max_length=128, unique=True)
    state = models.CharField(max_length=128, blank=True, default="")
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.nonce


class LtiUser(models.Model):
    """Who a platform user (iss + sub) is in Metis, within the platform's organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    issuer = models.CharField(max_length=255)
    sub = models.CharField(max_length=255)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="lti_identity")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI user"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "issuer", "sub"], name="lti_user_unique_per_org_issuer")
        ]

    def __str__(self) -> str:
        return f"{self.sub} @ {self.issuer}"


class ResourceLink(models.Model):
    """A placement of Metis in an LMS course, linked to the class its launches practise in, with the grade
    and roster service URLs the platform sent for it."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="resource_links")
    resource_link_id = models.CharField(max_length=255)
    deployment_id = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    context_id = models.CharField(max_length=255, blank=True, default="")
    context_title = models.CharField(max_length=255, blank=True, default="")
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.SET_NULL, related_name="lti_resource_links"
    )
    lineitem_url = models.URLField(max_length=500, blank=True, default="")
    ags_scopes = models.JSONField(default=list, blank=True)
    memberships_url = models.URLField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LTI resource link"
        constraints = [
            models.UniqueConstraint(fields=["platform", "resource_link_id"], name="lti_resource_link_unique")
        ]

    def __str__(self) -> str:
        return self.title or self.resource_link_id

    def clean(self) -> None:
        """A placement's launches create people in the platform's organisation: its class must be there too."""
        super().clean()
        section = self.section
        if section is not None and section.organisation_id != self.platform.organisation_id:
            raise ValidationError(
                {"section": f"{section} belongs to {section.organisation}, not {self.platform.organisation}."}
            )


class ScoreSubmission(models.Model):
    """A practice session's score, to be sent (or sent) to the platform's gradebook for one resource link: a
    "Started" one at launch (no score yet, so the gradebook shows who has begun) and a "Completed" one when
    the session ends."""

    class Progress(models.TextChoices):
        STARTED = "Started", "Started"
        COMPLETED = "Completed", "Completed"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    resource_link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="scores")
    session = models.ForeignKey(PracticeSession, on_delete=models.CASCADE, related_name="lti_scores")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    score_given = models.FloatField(null=True, blank=True, help_text="None for a 'Started' submission")
    score_maximum = models.FloatField(null=True, blank=True)
    activity_progress = models.CharField(max_length=20, choices=Progress.choices, default=Progress.COMPLETED)
    grading_progress = models.CharField(max_length=20, default="FullyGraded")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    tries = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "LTI score"
        constraints = [
            models.UniqueConstraint(
                fields=["resource_link", "session", "activity_progress"], name="lti_score_unique_per_session"
            )
        ]

    def __str__(self) -> str:
        if self.score_given is None or self.score_maximum is None:
            return f"{self.activity_progress} for session {self.session_id}"
        return f"{self.score_given:g}/{self.score_maximum:g} for session {self.session_id}"


def _invite_token() -> str:
    return secrets.token_urlsafe(24)


def _invite_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=7)


class RegistrationInvite(models.Model):
    """A single-use LTI Dynamic Registration URL for one organisation: the LMS admin pastes it into the LMS,
    which registers Metis and gets a client id without anyone copying keys."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, help_text="What the platform will be called, e.g. 'Moodle at Riverside'")
    token = models.CharField(max_length=64, unique=True, default=_invite_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invite_expiry)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    platform = models.ForeignKey(Platform, null=True, blank=True, on_delete=models.SET_NULL, editable=False)

    class Meta:
        verbose_name = "LTI registration invite"

    def __str__(self) -> str:
        return self.name
