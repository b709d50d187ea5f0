"""`manage.py demo_run` (the last step of `make demo`) serves the site and a real worker; Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import shared_database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_run_serves_and_ctrl_c_stops_web_and_worker():
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "METIS_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "demo_run", "--port", str(port), "-v", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    children: list[int] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        body = None
        while time.monotonic() < deadline and (body is None or not any("ready." in line for line in lines)):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.load(response)
            except OSError:
                time.sleep(0.5)
        out = "".join(lines)
        assert body is not None and body["status"] == "ok", out
        assert "ready." in out, "the Celery worker did not start:\n" + out
        assert f"http://127.0.0.1:{port}/" in out and "demo-student-30" in out and "password" in out
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the demo's process group
        assert proc.wait(timeout=60) == 0
        children = [int(p) for p in re.findall(r"^demo-child-pid (\d+)$", "".join(lines), flags=re.M)]
        assert len(children) == 2
        deadline = time.monotonic() + 20
        while any(_live_members(pgid) for pgid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [_live_members(pgid) for pgid in children] == [[], []], "part of the demo is still running"
    finally:
        for pgid in (proc.pid, *children):
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)


def _live_members(pgid: int) -> list[int]:
    """Processes of the group that still run (zombies awaiting their reaper count as gone)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
