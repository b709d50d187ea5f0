"""Metacognition: reflection prompts and answers, strategy suggestions and their outcomes, class settings.

Strategies themselves live in code (``metacog.catalog``) and are referred to by slug.
Who sees what is decided in ``tutor.access``: a reflection or suggestion is its student's data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .catalog import BY_SLUG


class PromptKind(models.TextChoices):
    PLANNING = "planning", "Planning (start of session)"
    JUDGMENT = "judgment", "Judgment of learning (after answering an item)"
    CONFIDENT_ERROR = "confident_error", "After a confident error"
    EVALUATION = "evaluation", "Evaluation (end of session)"


class PromptRule(models.Model):
    """A class's switch for one kind of prompt. No row means the default (on; judgments every 4 items)."""

    section = models.ForeignKey("tutor.Section", on_delete=models.CASCADE, related_name="prompt_rules")
    kind = models.CharField(max_length=20, choices=PromptKind.choices)
    enabled = models.BooleanField(default=True)
    every_n_items = models.PositiveSmallIntegerField(
        default=4, help_text="Judgments of learning: ask on every n-th item of a session"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["section", "kind"], name="prompt_rule_unique_per_class")]

    def __str__(self) -> str:
        return f"{self.kind} in {self.section} ({'on' if self.enabled else 'off'})"


class StrategySetting(models.Model):
    """A teacher switches a strategy off (or back on) for a class. No row means enabled."""

    section = models.ForeignKey("tutor.Section", on_delete=models.CASCADE, related_name="strategy_settings")
    strategy = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["section", "strategy"], name="strategy_setting_unique_per_class")
        ]

    def __str__(self) -> str:
        return f"{self.strategy} in {self.section} ({'on' if self.enabled else 'off'})"


class Reflection(models.Model):
    class Kind(models.TextChoices):
        PLANNING = "planning", "Plan"
        JUDGMENT = "judgment", "Judgment of learning"
        CONFIDENT_ERROR = "confident_error", "Confident error"
        EVALUATION = "evaluation", "Evaluation"
        STRATEGY_NOTE = "strategy_note", "Strategy note"
        SUMMARY = "summary", "Summary"

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reflections")
    section = models.ForeignKey("tutor.Section", on_delete=models.CASCADE, related_name="reflections")
    session = models.ForeignKey(
        "tutor.PracticeSession", null=True, blank=True, on_delete=models.CASCADE, related_name="reflections"
    )
    # SET_NULL: ending a session drops its unanswered last item, but not what the student wrote about it.
    session_item = models.ForeignKey(
        "tutor.SessionItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="reflections"
    )
    skill = models.ForeignKey("tutor.Skill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    prompt = models.CharField(max_length=300, help_text="The question as the student saw it")
    answer = models.TextField(blank=True, default="")
    second_answer = models.TextField(blank=True, default="", help_text="Evaluation: what to change next time")
    strategy = models.CharField(max_length=40, blank=True, default="", help_text="Planning: strategy to try")
    judgment = models.FloatField(null=True, blank=True, help_text="Judgment of learning, 0-1")
    skipped = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["student", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(judgment__isnull=True) | (Q(judgment__gte=0) & Q(judgment__lte=1)),
                name="reflection_judgment_probability",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.student}"

    @property
    def strategy_name(self) -> str:
        return BY_SLUG[self.strategy].name if self.strategy in BY_SLUG else self.strategy


class PolicyPrior(models.Model):
    """A population prior of the suggestion policy, meta-learned from many students' outcomes."""

    kind = models.CharField(max_length=20, default="meta_learned")
    params = models.JSONField(help_text="metacog.policy.PopulationPrior.to_dict()")
    n_students = models.PositiveIntegerField(default=0)
    n_observations = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="policy_prior_one_active")
        ]

    def __str__(self) -> str:
        return f"{self.kind} prior {self.pk} ({self.n_students} students)"


class StrategySuggestion(models.Model):
    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        NOT_HELPFUL = "not_helpful", "Not helpful"

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="suggestions")
    section = models.ForeignKey("tutor.Section", on_delete=models.CASCADE, related_name="suggestions")
    session = models.ForeignKey(
        "tutor.PracticeSession", null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions"
    )
    strategy = models.CharField(max_length=40)
    reason = models.CharField(max_length=400)
    context = models.JSONField(default=dict, help_text="Features the policy saw, and the prediction they imply")
    prior = models.ForeignKey(PolicyPrior, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    predicted_reward = models.FloatField(default=0.0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFERED)
    rating = models.SmallIntegerField(null=True, blank=True, help_text="+1 helpful, -1 not helpful")
    created_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    # Outcome, measured on the student's answers in the sessions after the one the strategy was used in.
    outcome_n = models.PositiveSmallIntegerField(default=0)
    performance_gain = models.FloatField(null=True, blank=True)
    calibration_gain = models.FloatField(null=True, blank=True)
    reward = models.FloatField(null=True, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    # In use from acceptance until another strategy is accepted or the student rates it not helpful; measuring
    # its outcome does not end it (the student is still doing what they agreed to).
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When an accepted strategy stopped being used")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["student", "section", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session"], condition=Q(session__isnull=False), name="suggestion_one_per_session"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__in=[-1, 1]), name="suggestion_rating_sign"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} for {self.student} ({self.status})"

    @property
    def strategy_info(self):
        return BY_SLUG.get(self.strategy)

    @property
    def performance_points(self) -> int | None:
        """The measured accuracy change in whole points, without its sign (pages say "more" or "fewer")."""
        return None if self.performance_gain is None else round(abs(self.performance_gain) * 100)

    @property
    def is_active(self) -> bool:
        """Accepted and not ended: its action shapes the student's practice, and it is not offered again."""
        return self.status == self.Status.ACCEPTED and self.ended_at is None


class ScheduledReview(models.Model):
    """A review the student agreed to (spacing, interleaving). Shown on their home page until done."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_reviews")
    section = models.ForeignKey("tutor.Section", on_delete=models.CASCADE, related_name="+")
    skills = models.ManyToManyField("tutor.Skill", related_name="+")
    suggestion = models.ForeignKey(StrategySuggestion, on_delete=models.CASCADE, related_name="reviews")
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"review for {self.student} due {self.due_at:%Y-%m-%d}"
