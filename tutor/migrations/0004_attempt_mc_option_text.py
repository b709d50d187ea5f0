"""Multiple-choice attempts store the chosen option's text, not its position.

Attempts recorded by the practice flow before this change held the option's 0-based position in both
``answer`` and ``normalized_answer`` (e.g. "3"); the seeded demo history already held the option text.
Only rows of the first kind (``normalized_answer`` a position and ``answer`` equal to it) are rewritten,
so running this on data that is already text changes nothing. Reversing restores the positions.
"""

from django.db import migrations

BATCH = 2000


def _mc_attempts(Attempt):
    return Attempt.objects.filter(item__item_type="multiple_choice").select_related("item").order_by("pk")


def positions_to_text(apps, schema_editor):
    Attempt = apps.get_model("tutor", "Attempt")
    changed = []
    for attempt in _mc_attempts(Attempt).iterator(chunk_size=BATCH):
        stored = attempt.normalized_answer
        if not (stored.isascii() and stored.isdigit()) or attempt.answer.strip() != stored:
            continue
        choices = attempt.item.answer.get("choices", [])
        index = int(stored)
        if index < len(choices):
            attempt.answer = attempt.normalized_answer = choices[index][:500]
            changed.append(attempt)
        if len(changed) >= BATCH:
            Attempt.objects.bulk_update(changed, ["answer", "normalized_answer"])
            changed = []
    Attempt.objects.bulk_update(changed, ["answer", "normalized_answer"])


def text_to_positions(apps, schema_editor):
    Attempt = apps.get_model("tutor", "Attempt")
    changed = []
    for attempt in _mc_attempts(Attempt).exclude(normalized_answer="").iterator(chunk_size=BATCH):
        choices = attempt.item.answer.get("choices", [])
        if attempt.normalized_answer in choices and attempt.answer == attempt.normalized_answer:
            attempt.answer = attempt.normalized_answer = str(choices.index(attempt.normalized_answer))
            changed.append(attempt)
    Attempt.objects.bulk_update(changed, ["answer", "normalized_answer"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("tutor", "0003_attempt_feedback")]

    operations = [migrations.RunPython(positions_to_text, text_to_positions)]
