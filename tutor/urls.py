from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lti import views as lti_views

from . import dashboards, views
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
    path("classes/<int:section_id>/schedule/", views.class_schedule, name="class_schedule"),
    path("students/<int:student_id>/attempts/", views.student_attempts, name="student_attempts"),
    path("models/", include("learner_models.urls")),
    path("metacog/", include("metacog.urls")),
    path("admin/", admin.site.urls),
    path("lti/", include("lti.urls")),
    path(".well-known/jwks.json", lti_views.jwks, name="jwks"),
    path("", include("tutor.api.urls")),
]
