from django.urls import path

from . import views

urlpatterns = [path("", views.registry, name="model_registry")]
