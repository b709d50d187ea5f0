from django.apps import AppConfig


class LearnerModelsConfig(AppConfig):
    name = "learner_models"
    verbose_name = "Learner models"
