"""What the API shows and accepts: explicit output serializers per resource, input serializers per write
and per filter set. No logic here beyond shape and type; the services decide."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from learner_models.models import ModelVersion
from metacog.calibration import Verdict
from metacog.models import Reflection, StrategySuggestion
from metacog.selectors import CalibrationSummary
from tutor.answers import ITEM_TYPES
from tutor.models import Attempt, Course, Enrollment, Item, Organisation, Section, SessionItem, Skill, User

#: The largest id the database holds (a 64-bit signed integer); a larger one is a 400, not a database error.
MAX_ID = 2**63 - 1

# --- output ---------------------------------------------------------------------------


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "slug", "name", "created_at"]


class ClassSerializer(serializers.ModelSerializer):
    course_id = serializers.IntegerField()
    course_slug = serializers.CharField(source="course.slug")

    class Meta:
        model = Section
        fields = ["id", "name", "course_id", "course_slug", "session_length", "scheduling_rule", "created_at"]
        read_only_fields = ["scheduling_rule"]


class StudentSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "external_id", "username", "first_name", "last_name"]


class EnrolmentSerializer(serializers.ModelSerializer):
    class_id = serializers.IntegerField(source="section_id")
    student_id = serializers.IntegerField()
    student_external_id = serializers.CharField(source="student.external_id")

    class Meta:
        model = Enrollment
        fields = ["id", "class_id", "student_id", "student_external_id", "created_at"]


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "slug", "title", "description"]


class SkillSerializer(serializers.ModelSerializer):
    course_id = serializers.IntegerField()
    prerequisite_ids = serializers.PrimaryKeyRelatedField(source="prerequisites", many=True, read_only=True)

    class Meta:
        model = Skill
        fields = ["id", "course_id", "slug", "name", "description", "position", "prerequisite_ids"]


class ItemSerializer(serializers.ModelSerializer):
    """An item as a student sees it: prompt, options and hints, never the answer or the worked solution."""

    course_id = serializers.IntegerField()
    skill_id = serializers.IntegerField()
    choices = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "course_id", "skill_id", "slug", "item_type", "prompt", "choices", "hints", "difficulty"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_choices(self, item: Item) -> list[str] | None:
        return list(item.answer.get("choices", [])) if item.item_type == "multiple_choice" else None


class AttemptSerializer(serializers.ModelSerializer):
    student_id = serializers.IntegerField()
    student_external_id = serializers.CharField(source="student.external_id")
    item_id = serializers.IntegerField()
    skill_id = serializers.IntegerField()
    class_id = serializers.SerializerMethodField()
    answered_at = serializers.DateTimeField(source="created_at")
    source = serializers.SerializerMethodField()
    served_item_id = serializers.IntegerField(
        source="session_item_id", allow_null=True, help_text="The next-item serving this answers, if any"
    )

    class Meta:
        model = Attempt
        fields = [
            "id",
            "student_id",
            "student_external_id",
            "item_id",
            "skill_id",
            "class_id",
            "answer",
            "correct",
            "feedback",
            "confidence",
            "response_time_ms",
            "hints_used",
            "idempotency_key",
            "answered_at",
            "source",
            "served_item_id",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_class_id(self, attempt: Attempt) -> int | None:
        return attempt.session.section_id if attempt.session else None

    @extend_schema_field(serializers.ChoiceField(choices=["practice", "ingested"]))
    def get_source(self, attempt: Attempt) -> str:
        """``practice``: answered in a Metis session; ``ingested``: posted through the API."""
        return "practice" if attempt.session_id else "ingested"


# --- input ----------------------------------------------------------------------------


class AttemptInSerializer(serializers.Serializer):
    student = serializers.CharField(max_length=255, help_text="The student's external id in your organisation")
    item = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="An item id from /api/v1/items/ (optional with served_item)",
    )
    served_item = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="A served_item_id from POST /api/v1/students/{id}/next-item/: the answer is recorded as "
        "practice in that class (answered_at is then the time it arrives)",
    )
    answer = serializers.CharField(max_length=500, help_text="As the student gave it; for multiple choice the option")
    confidence = serializers.FloatField(
        min_value=0, max_value=1, help_text="The student's probability of being right, given before answering"
    )
    idempotency_key = serializers.CharField(
        max_length=64,
        required=False,
        help_text="Required in a batch; a single POST may send the Idempotency-Key header",
    )
    response_time_ms = serializers.IntegerField(min_value=0, max_value=MAX_ID, required=False, allow_null=True)
    hints_used = serializers.IntegerField(min_value=0, max_value=100, default=0)
    answered_at = serializers.DateTimeField(required=False, help_text="When the student answered (default: now)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "item" not in attrs and "served_item" not in attrs:
            raise serializers.ValidationError({"item": ["Give an item, or the served_item it answers."]})
        return attrs


# --- a student: next item, mastery, metacognition --------------------------------------------


class ServedItemSerializer(serializers.ModelSerializer):
    """An item served to a student by the scheduler, and why; answer it with ``served_item``."""

    served_item_id = serializers.IntegerField(source="pk")
    session_id = serializers.IntegerField()
    class_id = serializers.IntegerField(source="session.section_id")
    reason = serializers.CharField(help_text="The scheduler's reason for this item, in plain words")
    item = ItemSerializer()

    class Meta:
        model = SessionItem
        fields = ["served_item_id", "session_id", "class_id", "position", "served_at", "reason", "item"]


class SkillMasterySerializer(serializers.Serializer):
    skill_id = serializers.IntegerField(source="skill.skill_id")
    course_id = serializers.IntegerField()
    name = serializers.CharField(source="skill.name")
    p_correct = serializers.FloatField(
        source="skill.p_correct", help_text="Predicted chance of answering a middling item of the skill right now"
    )
    recall = serializers.FloatField(source="skill.recall", help_text="Estimated share of what was learned still held")
    mastered = serializers.BooleanField(help_text="p_correct at or above mastery_threshold")
    level = serializers.CharField(source="skill.level", help_text="p_correct in the words students see")
    answers = serializers.IntegerField(source="skill.answers")
    correct = serializers.IntegerField(source="skill.correct")
    last_practised = serializers.DateTimeField(source="skill.last_practised", allow_null=True)
    review_due = serializers.BooleanField(source="skill.review_due")
    uncertainty = serializers.FloatField(
        allow_null=True,
        help_text="How much the model's ensemble members disagree on p_correct (their standard deviation); "
        "null on the fallback or for a single model",
    )
    learning_speed = serializers.FloatField(
        allow_null=True,
        help_text="How much one more answer on the skill is expected to raise p_correct, by the model; null on "
        "the fallback",
    )
    forgetting = serializers.FloatField(
        allow_null=True,
        help_text="How much p_correct falls after a week without practice, by the model; null on the fallback "
        "or when the model does not read the clock",
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    training_run_id = serializers.IntegerField()
    metrics = serializers.DictField(
        help_text="Held-out AUC by position bucket, and the champion's on the same students"
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "algorithm",
            "status",
            "status_reason",
            "metrics",
            "training_run_id",
            "created_at",
            "activated_at",
        ]


class MasterySerializer(serializers.Serializer):
    student_id = serializers.IntegerField(source="student.pk")
    source = serializers.ChoiceField(
        choices=["learner_model", "fallback"],
        help_text="learner_model: the active model version's predictions; fallback: the estimate from the "
        "student's own answers (no active version, or it failed)",
    )
    model_version = ModelVersionSerializer(allow_null=True)
    mastery_threshold = serializers.FloatField()
    ability = serializers.FloatField(
        allow_null=True,
        help_text="How far the model places the student above (positive) or below a new student on these "
        "skills, in log-odds; null on the fallback",
    )
    skills = SkillMasterySerializer(many=True)


class SuggestionSerializer(serializers.ModelSerializer):
    class_id = serializers.IntegerField(source="section_id")
    session_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = StrategySuggestion
        fields = [
            "id",
            "class_id",
            "session_id",
            "strategy",
            "reason",
            "status",
            "rating",
            "predicted_reward",
            "performance_gain",
            "calibration_gain",
            "created_at",
            "responded_at",
            "ended_at",
        ]


class ReflectionSerializer(serializers.ModelSerializer):
    class_id = serializers.IntegerField(source="section_id")
    session_id = serializers.IntegerField(allow_null=True)
    skill_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Reflection
        fields = [
            "id",
            "class_id",
            "session_id",
            "skill_id",
            "kind",
            "prompt",
            "answer",
            "second_answer",
            "strategy",
            "judgment",
            "skipped",
            "created_at",
        ]


class CalibrationBinSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()
    n = serializers.IntegerField()
    right = serializers.IntegerField()
    mean_confidence = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)


class CalibrationReportSerializer(serializers.Serializer):
    """One set of answers judged: ``gap`` = mean confidence - accuracy (> 0: surer than the results)."""

    n = serializers.IntegerField()
    n_right = serializers.IntegerField(source="judgment.n_right")
    mean_confidence = serializers.FloatField(source="judgment.mean_confidence", allow_null=True)
    accuracy = serializers.FloatField(source="judgment.accuracy", allow_null=True)
    gap = serializers.FloatField(source="judgment.gap", allow_null=True)
    gap_low = serializers.FloatField(source="judgment.gap_low", allow_null=True)
    gap_high = serializers.FloatField(source="judgment.gap_high", allow_null=True)
    verdict = serializers.ChoiceField(choices=[v.value for v in Verdict], source="judgment.verdict")
    brier = serializers.FloatField(source="brier.value", allow_null=True)
    ece = serializers.FloatField(source="ece.value", allow_null=True)
    bins = CalibrationBinSerializer(many=True)


class SkillCalibrationSerializer(CalibrationReportSerializer):
    """The shape of one ``by_skill`` entry (the schema's; ``CalibrationSerializer`` builds it)."""

    skill_id = serializers.IntegerField()


class CalibrationSerializer(serializers.Serializer):
    overall = CalibrationReportSerializer()
    by_skill = serializers.SerializerMethodField()

    @extend_schema_field(SkillCalibrationSerializer(many=True))
    def get_by_skill(self, summary: CalibrationSummary) -> list[dict[str, Any]]:
        return [{"skill_id": sid, **CalibrationReportSerializer(r).data} for sid, r in summary.by_skill.items()]


# --- writes: rosters and authoring ------------------------------------------------------------


class AuthoredItemSerializer(ItemSerializer):
    """An item as its author sees it: with the answer spec, the worked solution and where it came from."""

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "answer", "solution", "source"]


class ItemInSerializer(serializers.Serializer):
    """A content-format item (docs/content-format.md) under ``skill``; checked by the content format's rules."""

    skill = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="A skill id of a course only your classes use"
    )
    slug = serializers.CharField(max_length=120)
    type = serializers.ChoiceField(choices=list(ITEM_TYPES))
    prompt = serializers.CharField(max_length=5000)
    answer = serializers.DictField(help_text="The type's answer spec, e.g. {'value': 42, 'tolerance': 0}")
    hints = serializers.ListField(child=serializers.CharField(max_length=1000), max_length=20, required=False)
    solution = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    difficulty = serializers.FloatField(min_value=0, max_value=1, required=False)


class RosterUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A zip of orgs.csv, classes.csv, users.csv and enrollments.csv")


class RosterReportSerializer(serializers.Serializer):
    classes_created = serializers.IntegerField()
    classes_updated = serializers.IntegerField()
    users_created = serializers.IntegerField()
    users_updated = serializers.IntegerField()
    enrolments_created = serializers.IntegerField()
    enrolments_deleted = serializers.IntegerField()


# --- filters (query parameters) -----------------------------------------------------------


def _filters(name: str, **fields: serializers.Field) -> type[serializers.Serializer]:
    """A query-parameter serializer; built this way because one parameter is named ``class``."""
    return type(name, (serializers.Serializer,), dict(fields))


def _class_param() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="A class id")


ClassFilters = _filters("ClassFilters", course=serializers.SlugField(required=False, help_text="A course slug"))
StudentFilters = _filters(
    "StudentFilters",
    external_id=serializers.CharField(required=False, max_length=255, help_text="The student's id in your LMS"),
    **{"class": _class_param()},
)
EnrolmentFilters = _filters(
    "EnrolmentFilters",
    student=serializers.CharField(required=False, max_length=255, help_text="A student's external id"),
    **{"class": _class_param()},
)
SkillFilters = _filters("SkillFilters", course=serializers.SlugField(required=False, help_text="A course slug"))
ItemFilters = _filters(
    "ItemFilters",
    course=serializers.SlugField(required=False, help_text="A course slug"),
    skill=serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="A skill id"),
)
AttemptFilters = _filters(
    "AttemptFilters",
    student=serializers.CharField(required=False, max_length=255, help_text="A student's external id"),
    since=serializers.DateTimeField(required=False, help_text="Answered at or after (ISO 8601)"),
    **{"class": _class_param()},
)

NextItemIn = _filters(
    "NextItemIn",
    **{"class": serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The class to practise in")},
)
EnrolmentIn = _filters(
    "EnrolmentIn",
    student=serializers.CharField(max_length=255, help_text="The student's external id"),
    **{"class": serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="A class id")},
)

XapiFilters = _filters(
    "XapiFilters",
    since=serializers.DateTimeField(required=False, help_text="Answered at or after (ISO 8601)"),
    limit=serializers.IntegerField(
        required=False, min_value=1, help_text="Statements per page (default 50, at most 500)"
    ),
    cursor=serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="From the previous page's `more` link"
    ),
    **{"class": _class_param()},
)


class XapiStatementResultSerializer(serializers.Serializer):
    """An xAPI StatementResult: ``more`` is a relative URL of the next page, or empty on the last."""

    statements = serializers.ListField(child=serializers.DictField(), help_text="xAPI 1.0.3 statements")
    more = serializers.CharField(allow_blank=True)


def parse_filters(serializer_class: type[serializers.Serializer], params: Any) -> dict[str, Any]:
    """The validated query parameters; a bad one is a 400 naming it."""
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
