from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

v1 = [
    path("organisations/", views.OrganisationList.as_view(), name="api_organisations"),
    path("organisations/<int:pk>/", views.OrganisationDetail.as_view(), name="api_organisation"),
    path("classes/", views.ClassList.as_view(), name="api_classes"),
    path("classes/<int:pk>/", views.ClassDetail.as_view(), name="api_class"),
    path("students/", views.StudentList.as_view(), name="api_students"),
    path("students/<int:pk>/", views.StudentDetail.as_view(), name="api_student"),
    path("students/<int:student_id>/next-item/", views.StudentNextItem.as_view(), name="api_student_next_item"),
    path("students/<int:student_id>/mastery/", views.StudentMastery.as_view(), name="api_student_mastery"),
    path("students/<int:student_id>/suggestions/", views.StudentSuggestions.as_view(), name="api_student_suggestions"),
    path("students/<int:student_id>/reflections/", views.StudentReflections.as_view(), name="api_student_reflections"),
    path("students/<int:student_id>/calibration/", views.StudentCalibration.as_view(), name="api_student_calibration"),
    path("enrolments/", views.EnrolmentList.as_view(), name="api_enrolments"),
    path("enrolments/<int:pk>/", views.EnrolmentDetail.as_view(), name="api_enrolment"),
    path("courses/", views.CourseList.as_view(), name="api_courses"),
    path("courses/<int:pk>/", views.CourseDetail.as_view(), name="api_course"),
    path("skills/", views.SkillList.as_view(), name="api_skills"),
    path("skills/<int:pk>/", views.SkillDetail.as_view(), name="api_skill"),
    path("items/", views.ItemList.as_view(), name="api_items"),
    path("items/<int:pk>/", views.ItemDetail.as_view(), name="api_item"),
    path("attempts/", views.AttemptCollection.as_view(), name="api_attempts"),
    path("attempts/batch/", views.AttemptBatch.as_view(), name="api_attempts_batch"),
    path("attempts/<int:pk>/", views.AttemptDetail.as_view(), name="api_attempt"),
    path("rosters/oneroster/", views.RosterOneRoster.as_view(), name="api_roster_oneroster"),
    path("model-versions/", views.ModelVersionList.as_view(), name="api_model_versions"),
    path("model-versions/<int:pk>/", views.ModelVersionDetail.as_view(), name="api_model_version"),
    path("xapi/statements/", views.XapiStatements.as_view(), name="api_xapi_statements"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]
