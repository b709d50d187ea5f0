from django.conf import settings
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse

from .models import Deployment, LtiUser, Platform, RegistrationInvite, ResourceLink, ScoreSubmission, ToolKey


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 1


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation", "issuer", "client_id", "is_active")
    list_filter = ("organisation", "is_active")
    search_fields = ("name", "issuer", "client_id")
    inlines = [DeploymentInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("name", "organisation", "is_active")}),
        (
            "From the platform (docs/integration.md)",
            {"fields": ("issuer", "client_id", "auth_login_url", "auth_token_url", "auth_audience", "key_set_url")},
        ),
    )


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are made and retired by `manage.py lti_rotate_key`; the private half is never shown."""

    list_display = ("kid", "created_at", "retired_at")
    fields = ("kid", "created_at", "retired_at", "public_key_pem")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin):
    list_display = ("__str__", "platform", "context_title", "section", "updated_at")
    list_filter = ("platform",)
    search_fields = ("resource_link_id", "title", "context_title")
    fields = ("platform", "resource_link_id", "deployment_id", "title", "context_id", "context_title", "section")
    readonly_fields = ("platform", "resource_link_id", "deployment_id", "title", "context_id", "context_title")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LtiUser)
class LtiUserAdmin(admin.ModelAdmin):
    list_display = ("user", "issuer", "sub", "organisation", "created_at")
    search_fields = ("sub", "user__username")
    readonly_fields = ("organisation", "issuer", "sub", "user", "created_at")


@admin.register(ScoreSubmission)
class ScoreSubmissionAdmin(admin.ModelAdmin):
    list_display = ("student", "resource_link", "score_given", "score_maximum", "status", "tries", "sent_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ScoreSubmission._meta.fields]


@admin.register(RegistrationInvite)
class RegistrationInviteAdmin(admin.ModelAdmin):
    """Save an invite, then give its registration URL to the LMS admin (docs/integration.md)."""

    list_display = ("name", "organisation", "expires_at", "used_at", "platform")
    fields = ("name", "organisation", "expires_at", "registration_url", "used_at", "platform")
    readonly_fields = ("registration_url", "used_at", "platform")

    @admin.display(description="Registration URL (paste into the LMS)")
    def registration_url(self, obj: RegistrationInvite) -> str:
        if obj.pk is None:
            return "shown once saved"
        return settings.SITE_URL + reverse("lti:register", args=[obj.token])
