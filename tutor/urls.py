from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lti import views as lti_views

from . import class_views, dashboards, views
from .auth import ThrottledAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says; send them to the icon every page links to.
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("practice/start/<int:section_id>/", views.practice_start, name="practice_start"),
    path("practice/<int:session_id>/", views.practice, name="practice"),
    path("practice/<int:session_id>/items/<int:position>/answer/", views.practice_answer, name="practice_answer"),
    path("practice/<int:session_id>/items/<int:position>/hint/", views.practice_hint, name="practice_hint"),
    path("practice/<int:session_id>/end/", views.practice_end, name="practice_end"),
    path("practice/<int:session_id>/summary/", views.practice_summary, name="practice_summary"),
    path("progress/", views.my_progress, name="my_progress"),
    path("classes/<int:section_id>/", dashboards.class_overview, name="class_overview"),
    path("classes/<int:section_id>/students/<int:student_id>/", dashboards.class_student, name="class_student"),
    path("classes/<int:section_id>/items/", dashboards.class_items, name="class_items"),
    path("classes/<int:section_id>/model/", dashboards.class_model, name="class_model"),
    path("classes/<int:section_id>/schedule/", views.class_schedule, name="class_schedule"),
    path("classes/new/", class_views.class_create, name="class_create"),
    path("classes/<int:section_id>/manage/", class_views.class_manage, name="class_manage"),
    path("classes/<int:section_id>/students/add/", class_views.student_add, name="class_student_add"),
    path("classes/<int:section_id>/students/roster/", class_views.roster_upload, name="class_roster_upload"),
    path(
        "classes/<int:section_id>/students/<int:student_id>/password/",
        class_views.student_password_reset,
        name="class_student_password_reset",
    ),
    path(
        "classes/<int:section_id>/students/<int:student_id>/move/", class_views.student_move, name="class_student_move"
    ),
    path("classes/<int:section_id>/archive/", class_views.class_archive, name="class_archive"),
    path("classes/<int:section_id>/unarchive/", class_views.class_unarchive, name="class_unarchive"),
    path("classes/<int:section_id>/export.csv", class_views.class_export, name="class_export"),
    path("classes/<int:section_id>/live/", class_views.class_live, name="class_live"),
    path("classes/<int:section_id>/sessions/<int:session_id>/", class_views.class_session, name="class_session"),
    path("students/<int:student_id>/attempts/", views.student_attempts, name="student_attempts"),
    path("models/", include("learner_models.urls")),
    path("metacog/", include("metacog.urls")),
    path("admin/", admin.site.urls),
    path("lti/", include("lti.urls")),
    path(".well-known/jwks.json", lti_views.jwks, name="jwks"),
    path("", include("tutor.api.urls")),
]
