from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from .auth import ThrottledAdminAuthenticationForm
from .models import (
    ApiClient,
    Attempt,
    Course,
    Enrollment,
    ErasureRecord,
    Item,
    LearnedContrasts,
    Organisation,
    PracticeSession,
    Section,
    Skill,
    User,
    organisation_mismatch,
)
from .privacy_services import student_erase
from .services import api_client_revoke

# The admin's login counts wrong passwords like the login page (tutor.auth); this form says so plainly.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Metis", {"fields": ("role", "organisation", "external_id")}))
    list_display = ("username", "role", "organisation", "external_id", "is_active")
    list_filter = ("role", "organisation", "is_active")

    # Deleting an account is an erasure: every row about the person, their learner-model states, cached
    # entries, login sessions and the admin's own log entries about them, with an ErasureRecord kept.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        student_erase(student=obj, reason=ErasureRecord.Reason.ADMIN, requested_by=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.order_by("pk"):
            self.delete_model(request, user)


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    list_display = ("user_id", "role", "reason", "requested_by", "started_at", "finished_at")
    list_filter = ("reason", "role")
    readonly_fields = [f.name for f in ErasureRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ErasureRecord | None = None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug")


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "course", "position")
    list_filter = ("course",)
    filter_horizontal = ("prerequisites", "confusable_with")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("slug", "skill", "item_type", "source", "difficulty")
    list_filter = ("item_type", "source", "skill__course")
    search_fields = ("slug", "prompt")


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    raw_id_fields = ("student",)
    extra = 0


class SectionAdminForm(forms.ModelForm):
    """Teachers of the class's organisation only (students are checked by ``Enrollment.clean`` in the inline)."""

    class Meta:
        model = Section
        fields = [
            "organisation",
            "name",
            "course",
            "teachers",
            "session_length",
            "target_success",
            "review_weight",
            "skills_in_play",
            "scheduling_rule",
        ]

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        organisation, teachers = cleaned.get("organisation"), cleaned.get("teachers")
        if organisation is not None and teachers is not None:
            section = Section(name=cleaned.get("name") or self.instance.name, organisation=organisation)
            problems = [p for p in (organisation_mismatch(t, section) for t in teachers) if p]
            if problems:
                self.add_error("teachers", problems)
        return cleaned


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    form = SectionAdminForm
    list_display = ("name", "organisation", "course", "scheduling_rule")
    filter_horizontal = ("teachers",)
    inlines = [EnrollmentInline]


@admin.register(PracticeSession)
class PracticeSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "section", "scheduling_rule", "started_at", "ended_at")
    raw_id_fields = ("student",)


@admin.register(LearnedContrasts)
class LearnedContrastsAdmin(admin.ModelAdmin):
    """Read-only: ``manage.py contrasts_learn`` (or its nightly task) writes these."""

    list_display = ("course", "students", "answers", "learned_at")
    readonly_fields = ("course", "weights", "students", "answers", "learned_at")

    def has_add_permission(self, request):
        return False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("student", "item", "correct", "confidence", "hints_used", "created_at")
    list_filter = ("correct", "skill__course")
    raw_id_fields = ("student", "item", "session", "session_item")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """See and revoke integration clients. Creating one is ``manage.py api_client_create``, the one place its
    token is shown (only a hash is stored, so a form could never show it again)."""

    list_display = ("name", "organisation", "key_id", "scopes", "created_at", "revoked_at")
    list_filter = ("organisation", "revoked_at")
    readonly_fields = ("organisation", "name", "key_id", "scopes", "created_at", "revoked_at")
    exclude = ("secret_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected clients (their tokens stop working at once)")
    def revoke(self, request, queryset):
        for client in queryset:
            api_client_revoke(client=client)
        self.message_user(request, f"Revoked {queryset.count()} client(s).")
