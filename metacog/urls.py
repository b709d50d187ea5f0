from django.urls import path

from . import views

app_name = "metacog"

urlpatterns = [
    path("sessions/<int:session_id>/plan/", views.plan, name="plan"),
    path("sessions/<int:session_id>/items/<int:position>/reflect/", views.item_reflect, name="item_reflect"),
    path("sessions/<int:session_id>/reflect/", views.session_reflect, name="session_reflect"),
    path("suggestions/<int:suggestion_id>/respond/", views.suggestion_respond, name="suggestion_respond"),
    path("me/", views.me, name="me"),
    path("students/<int:student_id>/", views.student_history, name="student"),
    path("strategies/", views.strategy_catalog, name="catalog"),
    path("classes/<int:section_id>/", views.class_overview, name="class_overview"),
    path("classes/<int:section_id>/settings/", views.class_settings, name="class_settings"),
]
