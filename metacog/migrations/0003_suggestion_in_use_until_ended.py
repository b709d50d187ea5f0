from django.db import migrations, models
from django.db.models import F


def end_measured(apps, schema_editor):
    """Until now measuring an accepted suggestion ended it: keep those ended, at the time they were measured."""
    StrategySuggestion = apps.get_model("metacog", "StrategySuggestion")
    StrategySuggestion.objects.filter(status="accepted", measured_at__isnull=False, ended_at__isnull=True).update(
        ended_at=F("measured_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("metacog", "0002_judgment_prompt_after_answering"),
    ]

    operations = [
        migrations.AddField(
            model_name="strategysuggestion",
            name="ended_at",
            field=models.DateTimeField(
                blank=True, help_text="When an accepted strategy stopped being used", null=True
            ),
        ),
        migrations.RunPython(end_measured, migrations.RunPython.noop),
    ]
