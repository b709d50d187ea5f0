from django.core.management.base import BaseCommand, CommandError

from learner_models import services
from learner_models.models import ModelVersion


class Command(BaseCommand):
    help = "Make a model version the active one (roll back or forward). Students re-adapt lazily."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="model version id (see /models/ or the admin)")

    def handle(self, *args, version: int, **options):
        try:
            obj = ModelVersion.objects.get(pk=version)
        except ModelVersion.DoesNotExist:
            known = ", ".join(str(v) for v in ModelVersion.objects.values_list("pk", flat=True)[:20]) or "none"
            raise CommandError(f"no model version {version} (versions: {known})") from None
        try:
            services.model_version_activate(version=obj, reason="activated with manage.py model_activate")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Model version {obj.pk} ({obj.algorithm}) is now active."))
