"""API views: parse, scope to the client's organisation (tutor.access via the selectors), call one
selector or service, serialize. One view per operation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from learner_models import selectors as learner_model_selectors
from learner_models.models import ModelVersion
from metacog.models import Reflection, StrategySuggestion
from tutor import roster_services, selectors, services, xapi_selectors
from tutor.models import ApiClient, Attempt, Course, Enrollment, Item, Organisation, Section, Skill, User
from tutor.oneroster import MAX_ARCHIVE_BYTES

from . import serializers as s

MAX_BATCH = 500


class ClientView(generics.GenericAPIView):
    """A view for one integration client: ``self.client`` is the authenticated ApiClient."""

    filters: type[serializers.Serializer] | None = None

    @property
    def client(self) -> ApiClient:
        return self.request.auth  # HasScope let only ApiClients through

    def params(self) -> dict[str, Any]:
        return s.parse_filters(self.filters, self.request.query_params) if self.filters else {}


# --- organisation --------------------------------------------------------------------


class OrganisationList(ClientView, generics.ListAPIView):
    """The client's own organisation (a list of one)."""

    queryset = Organisation.objects.none()
    serializer_class = s.OrganisationSerializer

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisations_for_client(client=self.client)


class OrganisationDetail(ClientView, generics.RetrieveAPIView):
    queryset = Organisation.objects.none()
    serializer_class = s.OrganisationSerializer

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisations_for_client(client=self.client)


# --- classes, students, enrolments ------------------------------------------------------


@extend_schema(parameters=[s.ClassFilters])
class ClassList(ClientView, generics.ListAPIView):
    queryset = Section.objects.none()
    serializer_class = s.ClassSerializer
    filters = s.ClassFilters

    def get_queryset(self) -> QuerySet[Section]:
        return selectors.sections_for_client(client=self.client, course=self.params().get("course"))


class ClassDetail(ClientView, generics.RetrieveAPIView):
    queryset = Section.objects.none()
    serializer_class = s.ClassSerializer

    def get_queryset(self) -> QuerySet[Section]:
        return selectors.sections_for_client(client=self.client)


@extend_schema(parameters=[s.StudentFilters])
class StudentList(ClientView, generics.ListAPIView):
    queryset = User.objects.none()
    serializer_class = s.StudentSerializer
    filters = s.StudentFilters

    def get_queryset(self) -> QuerySet[User]:
        p = self.params()
        return selectors.students_for_client(
            client=self.client, external_id=p.get("external_id"), section_id=p.get("class")
        )


class StudentDetail(ClientView, generics.RetrieveAPIView):
    queryset = User.objects.none()
    serializer_class = s.StudentSerializer

    def get_queryset(self) -> QuerySet[User]:
        return selectors.students_for_client(client=self.client)


class EnrolmentList(ClientView, generics.ListAPIView):
    """GET lists the organisation's enrolments; POST enrols one of its students in one of its classes."""

    queryset = Enrollment.objects.none()
    serializer_class = s.EnrolmentSerializer
    filters = s.EnrolmentFilters

    def get_queryset(self) -> QuerySet[Enrollment]:
        p = self.params()
        return selectors.enrollments_for_client(
            client=self.client, section_id=p.get("class"), student_external_id=p.get("student")
        )

    @extend_schema(parameters=[s.EnrolmentFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.EnrolmentIn, responses={201: s.EnrolmentSerializer, 200: s.EnrolmentSerializer})
    def post(self, request: Request) -> Response:
        body = s.EnrolmentIn(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = services.enrollment_create_for_client(
            client=self.client,
            section_id=body.validated_data["class"],
            student_external_id=body.validated_data["student"],
        )
        return Response(
            s.EnrolmentSerializer(outcome.enrollment).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class EnrolmentDetail(ClientView, generics.RetrieveAPIView):
    """GET one enrolment; DELETE takes the student out of the class (their answers stay)."""

    queryset = Enrollment.objects.none()
    serializer_class = s.EnrolmentSerializer

    def get_queryset(self) -> QuerySet[Enrollment]:
        return selectors.enrollments_for_client(client=self.client)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.enrollment_delete(enrollment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- content -------------------------------------------------------------------------------


class CourseList(ClientView, generics.ListAPIView):
    """The courses the organisation's classes use."""

    queryset = Course.objects.none()
    serializer_class = s.CourseSerializer

    def get_queryset(self) -> QuerySet[Course]:
        return selectors.courses_for_client(client=self.client)


class CourseDetail(ClientView, generics.RetrieveAPIView):
    queryset = Course.objects.none()
    serializer_class = s.CourseSerializer

    def get_queryset(self) -> QuerySet[Course]:
        return selectors.courses_for_client(client=self.client)


@extend_schema(parameters=[s.SkillFilters])
class SkillList(ClientView, generics.ListAPIView):
    queryset = Skill.objects.none()
    serializer_class = s.SkillSerializer
    filters = s.SkillFilters

    def get_queryset(self) -> QuerySet[Skill]:
        return selectors.skills_for_client(client=self.client, course=self.params().get("course"))


class SkillDetail(ClientView, generics.RetrieveAPIView):
    queryset = Skill.objects.none()
    serializer_class = s.SkillSerializer

    def get_queryset(self) -> QuerySet[Skill]:
        return selectors.skills_for_client(client=self.client)


class ItemList(ClientView, generics.ListAPIView):
    """GET lists the items of the organisation's courses; POST authors one under a skill."""

    queryset = Item.objects.none()
    serializer_class = s.ItemSerializer
    filters = s.ItemFilters

    def get_queryset(self) -> QuerySet[Item]:
        p = self.params()
        return selectors.items_for_client(client=self.client, course=p.get("course"), skill_id=p.get("skill"))

    @extend_schema(parameters=[s.ItemFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.ItemInSerializer, responses={201: s.AuthoredItemSerializer})
    def post(self, request: Request) -> Response:
        body = s.ItemInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        item = services.item_create_for_client(client=self.client, skill_id=fields.pop("skill"), fields=fields)
        return Response(s.AuthoredItemSerializer(item).data, status=status.HTTP_201_CREATED)


class ItemDetail(ClientView, generics.RetrieveAPIView):
    """GET one item as a student sees it; PATCH changes some fields of an authored item."""

    queryset = Item.objects.none()
    serializer_class = s.ItemSerializer

    def get_queryset(self) -> QuerySet[Item]:
        return selectors.items_for_client(client=self.client)

    @extend_schema(request=s.ItemInSerializer(partial=True), responses={200: s.AuthoredItemSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        body = s.ItemInSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        item = services.item_update_for_client(
            client=self.client, item=self.get_object(), fields=fields, skill_id=fields.pop("skill", None)
        )
        return Response(s.AuthoredItemSerializer(item).data)


# --- attempts ------------------------------------------------------------------------------


def _ingest(data: dict[str, Any], key: str | None) -> services.AttemptIngest:
    return services.AttemptIngest(
        student_external_id=data["student"],
        item_id=data.get("item"),
        answer=data["answer"],
        confidence=data["confidence"],
        idempotency_key=key or data.get("idempotency_key") or "",
        response_time_ms=data.get("response_time_ms"),
        hints_used=data.get("hints_used", 0),
        answered_at=data.get("answered_at"),
        served_item_id=data.get("served_item"),
    )


class AttemptCollection(ClientView, generics.ListAPIView):
    """GET lists the organisation's attempts; POST stores one ingested attempt, idempotently."""

    queryset = Attempt.objects.none()
    serializer_class = s.AttemptSerializer
    filters = s.AttemptFilters

    def get_queryset(self) -> QuerySet[Attempt]:
        p = self.params()
        return selectors.attempts_for_client(
            client=self.client, student_external_id=p.get("student"), since=p.get("since"), section_id=p.get("class")
        )

    @extend_schema(parameters=[s.AttemptFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.AttemptInSerializer,
        responses={201: s.AttemptSerializer, 200: s.AttemptSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="A retry with the same key (for the same student) stores nothing and returns the "
                "first attempt with status 200; the key may also come in the body as idempotency_key.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = s.AttemptInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        header = request.headers.get("Idempotency-Key")
        field = body.validated_data.get("idempotency_key")
        if header and field and header != field:
            raise serializers.ValidationError({"idempotency_key": ["Differs from the Idempotency-Key header."]})
        outcome = services.attempt_ingest(client=self.client, entry=_ingest(body.validated_data, header))
        return Response(
            s.AttemptSerializer(outcome.attempt).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class AttemptBatch(ClientView):
    """POST a list of attempts, each with its own idempotency_key: all are stored, or none."""

    serializer_class = s.AttemptSerializer

    @extend_schema(
        request=s.AttemptInSerializer(many=True),
        responses={201: s.AttemptSerializer(many=True), 200: s.AttemptSerializer(many=True)},
    )
    def post(self, request: Request) -> Response:
        body = s.AttemptInSerializer(data=request.data, many=True, allow_empty=False, max_length=MAX_BATCH)
        body.is_valid(raise_exception=True)
        for i, entry in enumerate(body.validated_data):
            if not entry.get("idempotency_key"):
                raise serializers.ValidationError([{}] * i + [{"idempotency_key": ["Each attempt needs one."]}])
        outcomes = services.attempts_ingest(client=self.client, entries=[_ingest(d, None) for d in body.validated_data])
        created = any(o.created for o in outcomes)
        return Response(
            s.AttemptSerializer([o.attempt for o in outcomes], many=True).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AttemptDetail(ClientView, generics.RetrieveAPIView):
    queryset = Attempt.objects.none()
    serializer_class = s.AttemptSerializer

    def get_queryset(self) -> QuerySet[Attempt]:
        return selectors.attempts_for_client(client=self.client)


# --- rosters ---------------------------------------------------------------------------------------


class RosterOneRoster(ClientView):
    """Import a OneRoster 1.2 CSV zip into the client's organisation, all or nothing (docs/api.md, "Rosters")."""

    serializer_class = s.RosterReportSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": s.RosterUploadSerializer}, responses=s.RosterReportSerializer)
    def post(self, request: Request) -> Response:
        body = s.RosterUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > MAX_ARCHIVE_BYTES:
            raise serializers.ValidationError({"file": [f"Larger than {MAX_ARCHIVE_BYTES // 1_000_000} MB."]})
        report = roster_services.roster_import(organisation=self.client.organisation, data=upload.read())
        return Response(s.RosterReportSerializer(report).data)


# --- a student: next item, mastery, metacognition ------------------------------------------------

_STUDENT_ID = OpenApiParameter("student_id", int, OpenApiParameter.PATH, description="A student id")


class StudentView(ClientView):
    """A view of one student of the client's organisation; another organisation's student is a 404."""

    def student(self) -> User:
        return get_object_or_404(selectors.students_for_client(client=self.client), pk=self.kwargs["student_id"])


@extend_schema(parameters=[_STUDENT_ID])
class StudentNextItem(StudentView):
    """The scheduler's next item for the student in a class, with its reason, for an LMS that renders practice
    itself. Until it is answered (POST /attempts/ with ``served_item``) the same item is served again."""

    serializer_class = s.ServedItemSerializer

    @extend_schema(request=s.NextItemIn, responses=s.ServedItemSerializer)
    def post(self, request: Request, student_id: int) -> Response:
        body = s.NextItemIn(data=request.data)
        body.is_valid(raise_exception=True)
        served = services.item_serve_for_client(
            client=self.client, student=self.student(), section_id=body.validated_data["class"]
        )
        return Response(s.ServedItemSerializer(served).data)


@extend_schema(parameters=[_STUDENT_ID])
class StudentMastery(StudentView):
    """Per skill of the student's courses: predicted P(correct), recall and mastery, and their source."""

    serializer_class = s.MasterySerializer

    def get(self, request: Request, student_id: int) -> Response:
        return Response(s.MasterySerializer(selectors.mastery_for_student(student=self.student())).data)


@extend_schema(parameters=[_STUDENT_ID])
class StudentSuggestions(StudentView, generics.ListAPIView):
    """Strategy suggestions made to the student in the organisation's classes, newest first."""

    queryset = StrategySuggestion.objects.none()
    serializer_class = s.SuggestionSerializer

    def get_queryset(self) -> QuerySet[StrategySuggestion]:
        return selectors.suggestions_for_client(client=self.client, student=self.student())


@extend_schema(parameters=[_STUDENT_ID])
class StudentReflections(StudentView, generics.ListAPIView):
    """The student's reflections (planning, evaluation, judgments of learning), newest first."""

    queryset = Reflection.objects.none()
    serializer_class = s.ReflectionSerializer

    def get_queryset(self) -> QuerySet[Reflection]:
        return selectors.reflections_for_client(client=self.client, student=self.student())


@extend_schema(parameters=[_STUDENT_ID])
class StudentCalibration(StudentView):
    """How well the student's confidence matches their results: overall and per skill."""

    serializer_class = s.CalibrationSerializer

    def get(self, request: Request, student_id: int) -> Response:
        summary = selectors.calibration_for_client(client=self.client, student=self.student())
        return Response(s.CalibrationSerializer(summary).data)


# --- learner-model versions (no student data: every client reads them) ----------------------------


class ModelVersionList(ClientView, generics.ListAPIView):
    queryset = ModelVersion.objects.none()
    serializer_class = s.ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return learner_model_selectors.model_versions()


class ModelVersionDetail(ClientView, generics.RetrieveAPIView):
    queryset = ModelVersion.objects.none()
    serializer_class = s.ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return learner_model_selectors.model_versions()


# --- xAPI ------------------------------------------------------------------------------------


class XapiStatements(ClientView):
    """The organisation's attempts as xAPI 1.0.3 "answered" statements, oldest id first, in an LRS's
    StatementResult shape (docs/api.md, "xAPI")."""

    serializer_class = s.XapiStatementResultSerializer
    filters = s.XapiFilters
    pagination_class = None  # paged by the ``more`` link, as an LRS pages

    @extend_schema(parameters=[s.XapiFilters], responses=s.XapiStatementResultSerializer)
    def get(self, request: Request) -> Response:
        p = self.params()
        limit = min(p.get("limit", settings.API_PAGE_SIZE), settings.API_MAX_PAGE_SIZE)
        page = xapi_selectors.xapi_statements_for_organisation(
            organisation_id=self.client.organisation_id,
            section_id=p.get("class"),
            since=p.get("since"),
            after=p.get("cursor"),
            limit=limit,
        )
        more = ""
        if page.next_cursor is not None:
            query = request.query_params.copy()
            query["cursor"] = str(page.next_cursor)
            more = f"{request.path}?{query.urlencode()}"  # relative, as xAPI's StatementResult.more is
        return Response(s.XapiStatementResultSerializer({"statements": page.statements, "more": more}).data)
