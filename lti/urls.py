from django.urls import path

from . import views

app_name = "lti"

urlpatterns = [
    path("jwks/", views.jwks, name="jwks"),
    path("login/", views.login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("pick/<str:launch_id>/", views.pick, name="pick"),
    path("register/<str:token>/", views.register, name="register"),
]
