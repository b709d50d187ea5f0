from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views


class IdConverter:
    """A database id: at most 18 digits, so a larger number is a 404 like any unknown id (SQLite and PostgreSQL
    integers stop at 2**63 - 1; Django's ``int`` converter would pass it on to a database error)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

v1 = [
    path("organisations/", views.OrganisationList.as_view(), name="api_organisations"),
    path("organisations/<id:pk>/", views.OrganisationDetail.as_view(), name="api_organisation"),
    path("classes/", views.ClassList.as_view(), name="api_classes"),
    path("classes/<id:pk>/", views.ClassDetail.as_view(), name="api_class"),
    path("students/", views.StudentList.as_view(), name="api_students"),
    path("students/<id:pk>/", views.StudentDetail.as_view(), name="api_student"),
    path("students/<id:student_id>/next-item/", views.StudentNextItem.as_view(), name="api_student_next_item"),
    path("students/<id:student_id>/mastery/", views.StudentMastery.as_view(), name="api_student_mastery"),
    path("students/<id:student_id>/suggestions/", views.StudentSuggestions.as_view(), name="api_student_suggestions"),
    path("students/<id:student_id>/reflections/", views.StudentReflections.as_view(), name="api_student_reflections"),
    path("students/<id:student_id>/calibration/", views.StudentCalibration.as_view(), name="api_student_calibration"),
    path("enrolments/", views.EnrolmentList.as_view(), name="api_enrolments"),
    path("enrolments/<id:pk>/", views.EnrolmentDetail.as_view(), name="api_enrolment"),
    path("courses/", views.CourseList.as_view(), name="api_courses"),
    path("courses/<id:pk>/", views.CourseDetail.as_view(), name="api_course"),
    path("skills/", views.SkillList.as_view(), name="api_skills"),
    path("skills/<id:pk>/", views.SkillDetail.as_view(), name="api_skill"),
    path("items/", views.ItemList.as_view(), name="api_items"),
    path("items/<id:pk>/", views.ItemDetail.as_view(), name="api_item"),
    path("attempts/", views.AttemptCollection.as_view(), name="api_attempts"),
    path("attempts/batch/", views.AttemptBatch.as_view(), name="api_attempts_batch"),
    path("attempts/<id:pk>/", views.AttemptDetail.as_view(), name="api_attempt"),
    path("rosters/oneroster/", views.RosterOneRoster.as_view(), name="api_roster_oneroster"),
    path("model-versions/", views.ModelVersionList.as_view(), name="api_model_versions"),
    path("model-versions/<id:pk>/", views.ModelVersionDetail.as_view(), name="api_model_version"),
    path("xapi/statements/", views.XapiStatements.as_view(), name="api_xapi_statements"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]
