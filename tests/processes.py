"""Tests that start real processes (Celery workers, the demo) against this session's database and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def shared_database_url() -> str:
    """A DATABASE_URL that points a child process at this test session's database."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child that shares the test database, broker and var/ folder."""
    return {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "METIS_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class ChildProcess:
    """A child in its own process group, its output collected line by line."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, *, timeout: float, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines) < count:
            if self.proc.poll() is not None:
                raise AssertionError("the process exited:\n" + "".join(self.lines[-40:]))
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in {timeout}s:\n" + "".join(self.lines[-40:]))
            time.sleep(0.1)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def kill_pid(pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)  # every process of the group, no goodbye
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
