from django.contrib import admin

from .models import PolicyPrior, PromptRule, Reflection, ScheduledReview, StrategySetting, StrategySuggestion


@admin.register(Reflection)
class ReflectionAdmin(admin.ModelAdmin):
    list_display = ("student", "kind", "section", "skipped", "created_at")
    list_filter = ("kind", "skipped")
    search_fields = ("student__username", "answer")
    raw_id_fields = ("student", "section", "session", "session_item", "skill")


@admin.register(StrategySuggestion)
class StrategySuggestionAdmin(admin.ModelAdmin):
    list_display = ("student", "strategy", "status", "rating", "reward", "created_at")
    list_filter = ("strategy", "status")
    search_fields = ("student__username",)
    raw_id_fields = ("student", "section", "session", "prior")


@admin.register(PromptRule)
class PromptRuleAdmin(admin.ModelAdmin):
    list_display = ("section", "kind", "enabled", "every_n_items")


@admin.register(StrategySetting)
class StrategySettingAdmin(admin.ModelAdmin):
    list_display = ("section", "strategy", "enabled")


@admin.register(PolicyPrior)
class PolicyPriorAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "n_students", "n_observations", "active", "created_at")


@admin.register(ScheduledReview)
class ScheduledReviewAdmin(admin.ModelAdmin):
    list_display = ("student", "section", "due_at", "done_at")
    raw_id_fields = ("student", "section", "suggestion")
