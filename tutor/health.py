"""Liveness of the parts the tutor needs: database and task broker."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from kombu import Connection

from learner_models.selectors import model_health

BROKER_TIMEOUT_S = 2.0


def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    started = time.perf_counter()
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    try:
        if url.startswith("filesystem://"):
            # The embedded broker is a pair of folders: it answers if the worker and web can write there.
            for key in ("data_folder_in", "data_folder_out"):
                folder = Path(options[key])
                if not folder.is_dir() or not os.access(folder, os.W_OK):
                    raise OSError(f"broker folder {folder} is missing or not writable")
        else:
            with Connection(url, connect_timeout=BROKER_TIMEOUT_S, transport_options=options) as conn:
                conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
                conn.default_channel  # noqa: B018 - opening a channel proves the broker speaks
    except Exception as exc:
        return {"ok": False, "transport": url.split("://", 1)[0], "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "ok": True,
        "transport": url.split("://", 1)[0],
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_learner_model() -> dict:
    try:
        return model_health()
    except Exception as exc:  # the database being down is reported by check_database
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def health_report() -> dict:
    checks = {"database": check_database(), "broker": check_broker()}
    down = [name for name, check in checks.items() if not check["ok"]]
    report = {"status": "ok" if not down else "unavailable", "down": down, **checks}
    if "database" not in down:
        report["learner_model"] = check_learner_model()
    return report
