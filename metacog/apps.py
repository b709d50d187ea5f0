from django.apps import AppConfig


class MetacogConfig(AppConfig):
    name = "metacog"
    verbose_name = "Metacognition"
