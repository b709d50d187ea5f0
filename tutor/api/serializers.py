"""What the API shows and accepts: explicit output serializers per resource, input serializers per write
and per filter set. No logic here beyond shape and type; the services decide."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tutor.models import Attempt, Course, Enrollment, Item, Organisation, Section, Skill, User

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
        fields = ["id", "name", "course_id", "course_slug", "session_length", "created_at"]


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
    item = serializers.IntegerField(min_value=1, help_text="An item id from /api/v1/items/")
    answer = serializers.CharField(max_length=500, help_text="As the student gave it; for multiple choice the option")
    confidence = serializers.FloatField(
        min_value=0, max_value=1, help_text="The student's probability of being right, given before answering"
    )
    idempotency_key = serializers.CharField(
        max_length=64,
        required=False,
        help_text="Required in a batch; a single POST may send the Idempotency-Key header",
    )
    response_time_ms = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    hints_used = serializers.IntegerField(min_value=0, max_value=100, default=0)
    answered_at = serializers.DateTimeField(required=False, help_text="When the student answered (default: now)")


# --- filters (query parameters) -----------------------------------------------------------


def _filters(name: str, **fields: serializers.Field) -> type[serializers.Serializer]:
    """A query-parameter serializer; built this way because one parameter is named ``class``."""
    return type(name, (serializers.Serializer,), dict(fields))


def _class_param() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, min_value=1, help_text="A class id")


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
    skill=serializers.IntegerField(required=False, min_value=1, help_text="A skill id"),
)
AttemptFilters = _filters(
    "AttemptFilters",
    student=serializers.CharField(required=False, max_length=255, help_text="A student's external id"),
    since=serializers.DateTimeField(required=False, help_text="Answered at or after (ISO 8601)"),
    **{"class": _class_param()},
)

XapiFilters = _filters(
    "XapiFilters",
    since=serializers.DateTimeField(required=False, help_text="Answered at or after (ISO 8601)"),
    limit=serializers.IntegerField(
        required=False, min_value=1, help_text="Statements per page (default 50, at most 500)"
    ),
    cursor=serializers.IntegerField(required=False, min_value=0, help_text="From the previous page's `more` link"),
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
