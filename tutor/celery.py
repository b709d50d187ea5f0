"""The Celery application. Broker and routing come from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor.settings")

app = Celery("metis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
