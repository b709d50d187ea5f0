from django.contrib import admin, messages

from . import services
from .models import ModelVersion, StudentModelState, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("id", "algorithm", "trigger", "status", "device", "created_at", "finished_at")
    list_filter = ("status", "trigger", "algorithm")
    readonly_fields = [f.name for f in TrainingRun._meta.fields]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "algorithm", "status", "status_reason", "created_at", "activated_at")
    list_filter = ("status", "algorithm")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate"]

    @admin.action(description="Activate the selected version (roll back / forward)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        try:
            services.model_version_activate(version=version, reason=f"activated in the admin by {request.user}")
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Version {version.pk} is now active.", messages.SUCCESS)


@admin.register(StudentModelState)
class StudentModelStateAdmin(admin.ModelAdmin):
    list_display = ("student", "model_version", "n_attempts", "adapt_ms", "updated_at")
    raw_id_fields = ("student",)
    exclude = ("state",)
