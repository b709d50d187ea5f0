"""Model registry (training runs, model versions) and each student's adapted state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"
        THRESHOLD = "threshold", "New attempts"
        BOOTSTRAP = "bootstrap", "First start"

    # Same algorithm + hyperparameters + data cut-off = same request; it is queued once.
    request_key = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=40)
    hyperparameters = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.JSONField(default=dict, blank=True, help_text="percent, epoch, loss, val_auc")
    # What the run trains on: attempts with id <= cutoff_attempt_id.
    cutoff_attempt_id = models.BigIntegerField(default=0)
    data_snapshot = models.JSONField(default=dict, blank=True, help_text="students, attempts, cut-off time")
    device = models.CharField(max_length=32, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="", help_text="host:pid of the claiming worker")
    executions = models.PositiveSmallIntegerField(default=0, help_text="how many times a worker started it")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.algorithm}, {self.status})"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        FAILED = "failed", "Failed"

    training_run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    algorithm = models.CharField(max_length=40)
    config = models.JSONField(default=dict)
    checkpoint = models.FileField(upload_to="learner_models/")
    checksum = models.CharField(max_length=64, help_text="sha256 of the checkpoint file")
    # AUC by position bucket on held-out students, plus the champion's figures on the same students.
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_model_version")
        ]

    def __str__(self) -> str:
        return f"v{self.pk} {self.algorithm} ({self.status})"

    @classmethod
    def active(cls) -> ModelVersion | None:
        """The version served to students (at most one, by the constraint above)."""
        return cls.objects.filter(status=cls.Status.ACTIVE).first()


class StudentModelState(models.Model):
    """A student's adapted learner state under one model version (kilobytes)."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_states")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="student_states")
    state = models.BinaryField()
    n_attempts = models.PositiveIntegerField(help_text="attempts the state was adapted from")
    last_attempt_id = models.BigIntegerField(default=0)
    adapt_ms = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "model_version"], name="student_state_unique_per_version")
        ]

    def __str__(self) -> str:
        return f"state of {self.student_id} under v{self.model_version_id}"
