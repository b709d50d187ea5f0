"""Server time and queries of the four teacher dashboard pages on the demo class (docs/dashboards.md).

Builds a fresh demo school in a temporary SQLite file (never the demo database), activates an Elo model
trained on the first half of its answers (so the model check has answers to check), then requests each
page as demo-teacher through Django's test client: the median of 7 requests after one warm-up.

    .venv/bin/python scripts/dashboard_timing.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="metis-dash-timing-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'timing.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor.settings")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from learner_models import services as lm  # noqa: E402
from tutor.demo import DEMO_CLASS, DEMO_TEACHER, demo_seed  # noqa: E402
from tutor.models import Attempt, Section, User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    as_json = parser.parse_args().json
    say = (lambda _msg: None) if as_json else print
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.MEDIA_ROOT = WORK / "media"
    call_command("migrate", verbosity=0)
    say("seeding the demo school ...")
    demo_seed(password="timing-only-pass")
    ids = Attempt.objects.aggregate(lo=Min("id"), hi=Max("id"))
    run, _ = lm.training_run_request(algorithm="elo", hyperparameters={}, enqueue=False)
    run.cutoff_attempt_id = (ids["lo"] + ids["hi"]) // 2
    run.save(update_fields=["cutoff_attempt_id"])
    lm.model_version_activate(version=lm.training_run_execute(run_id=run.pk, device="cpu"))

    section = Section.objects.get(name=DEMO_CLASS)
    student = section.enrollments.order_by("student__username").first().student
    client = Client()
    client.force_login(User.objects.get(username=DEMO_TEACHER))
    n_answers = Attempt.objects.filter(session__section=section).count()
    result: dict = {"students": section.enrollments.count(), "answers": n_answers, "pages": {}}
    for name, url in [
        ("class overview", reverse("class_overview", args=[section.pk])),
        ("student page", reverse("class_student", args=[section.pk, student.pk])),
        ("items and skills", reverse("class_items", args=[section.pk])),
        ("can I trust the model?", reverse("class_model", args=[section.pk])),
    ]:
        client.get(url)
        times = []
        for _ in range(7):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        result["pages"][name] = {"median_ms": round(statistics.median(times), 1), "queries": len(queries)}
    if as_json:
        print(json.dumps(result))
        return
    print(f"\n{result['students']} students, {n_answers} answers\n")
    print("| page | median server time (ms) | queries |")
    print("| --- | ---: | ---: |")
    for name, row in result["pages"].items():
        print(f"| {name} | {row['median_ms']:.0f} | {row['queries']} |")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)  # the temporary demo database and model files
